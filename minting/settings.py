"""Settings of minting (ERC-721): the `minting` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start. Secrets never live here:
the private key comes from an environment variable or an encrypted keystore file, the pinning
token from an environment variable; this section only names them.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from gallery.settings_base import Strict

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class MintingSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    rpc_url: str = ""
    chain_id: int = Field(131277322940537, gt=0)
    contract: str = ""
    name: str = Field("Latent Gallery", min_length=1, max_length=100)
    symbol: str = Field("LATENT", min_length=1, max_length=11)
    description: str = "Works generated from latent spaces, curated into sets."
    external_url: str = ""
    royalty_bps: int = Field(500, ge=0, le=10000)
    royalty_receiver: str = ""
    recipient: str = ""
    ownership_stride: int = Field(34, ge=1, le=5000)
    batch_size: int = Field(100, ge=1, le=1000)
    key_env: str = "GALLERY_MINT_KEY"
    keystore: Path | None = None
    keystore_password_env: str = "GALLERY_MINT_KEYSTORE_PASSWORD"
    max_fee_gwei: float = Field(100.0, gt=0)
    priority_fee_gwei: float = Field(1.5, ge=0)
    receipt_timeout_s: float = Field(180.0, gt=0)
    fee_bump_percent: float = Field(15.0, ge=10.0, le=200.0)
    max_fee_bumps: int = Field(3, ge=0, le=20)
    car_dir: str = "mint"
    pinning_url: str = ""
    car_upload_url: str = ""
    pinning_token_env: str = "GALLERY_PINNING_TOKEN"

    @field_validator("contract", "royalty_receiver", "recipient")
    @classmethod
    def _address(cls, v: str) -> str:
        if v and not _ADDRESS.match(v):
            raise ValueError(f"not an Ethereum address (0x and 40 hex digits): {v!r}")
        return v

    @field_validator("key_env", "keystore_password_env", "pinning_token_env")
    @classmethod
    def _env_name(cls, v: str) -> str:
        if not _ENV_NAME.match(v):
            raise ValueError(f"must be the NAME of an environment variable (A-Z, 0-9, _), not a value: {v[:4]!r}…")
        return v

    @field_validator("rpc_url", "pinning_url", "car_upload_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v and v != "eth-tester" and not re.match(r"^https?://", v):
            raise ValueError(f"must be an http(s) URL (or 'eth-tester' for rpc_url): {v!r}")
        if re.search(r"0x[0-9a-fA-F]{64}", v) or re.search(r"[0-9a-fA-F]{64}", v):
            raise ValueError("looks like it holds a private key; keys come only from the environment or a keystore")
        return v

    @model_validator(mode="after")
    def _fees(self) -> MintingSettings:
        if self.priority_fee_gwei > self.max_fee_gwei:
            raise ValueError(f"priority_fee_gwei ({self.priority_fee_gwei}) is above max_fee_gwei ({self.max_fee_gwei})")
        return self
