"""The chain client: connection, signer, EIP-1559 fees, and the transaction journal.

Every transaction is signed and written to the `mint_tx` journal (nonce, hash, raw signed bytes)
BEFORE it is sent. `Chain.reconcile()` settles whatever a crashed run left behind: it finds the
receipt of each journalled transaction, or re-broadcasts the very same signed bytes (same hash,
same nonce), so nothing is sent twice under a new nonce. A receipt that does not come within
`receipt_timeout_s` gets a replacement with both fees bumped (same nonce), up to the fee ceiling.

Private keys only come from an environment variable or an encrypted keystore; they are held by
`Signer` and never logged, stored, or put into an error message.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select

from catalogue.models import MintTx
from gallery.errors import BadInput, GalleryError
from minting.settings import MintingSettings

log = logging.getLogger("gallery.minting")
GWEI = 10**9
ARTEFACT = Path(__file__).with_name("artefacts") / "contracts.json"
IN_PROCESS_CHAIN_ID = 131277322940537


@cache
def artefact() -> dict[str, Any]:
    try:
        return json.loads(ARTEFACT.read_text())
    except (OSError, ValueError) as e:
        raise GalleryError(f"contract artefact {ARTEFACT} is unreadable ({e}); run `make contracts`") from None


def contract_interface(name: str = "LatentGallerySet") -> tuple[list, str]:
    c = artefact()["contracts"][name]
    return c["abi"], c["bytecode"]


# -- the signer ---------------------------------------------------------------------------------

class Signer:
    """Holds the key; shows only the address (repr, str, logs)."""

    __slots__ = ("_account", "address")

    def __init__(self, account: Any) -> None:
        self._account = account
        self.address: str = account.address

    def sign(self, tx: dict[str, Any]) -> Any:
        return self._account.sign_transaction(tx)

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    __str__ = __repr__

    def __reduce__(self):  # never pickled (no key in a job store or a cache)
        raise TypeError("a Signer cannot be pickled")


class NoKey:
    """A read-only stand-in for a signer (dry runs, verify): an address to read and estimate from, no key."""

    __slots__ = ("address",)

    def __init__(self, address: str | None = None) -> None:
        self.address = address

    def sign(self, tx: dict[str, Any]) -> Any:
        raise GalleryError("no minting key was loaded: this command only reads the chain")

    def __repr__(self) -> str:
        return f"NoKey({self.address})"


def key_configured(ms: MintingSettings, environ: Mapping[str, str]) -> bool:
    """Is a key given at all (the variable `ms.key_env` is set, or minting.keystore)?"""
    return ms.keystore is not None or ms.key_env in environ


def load_signer(ms: MintingSettings, environ: Mapping[str, str]) -> Signer:
    """The key from the environment variable `ms.key_env`, or from the encrypted keystore file."""
    from eth_account import Account

    if ms.keystore is not None:
        path = Path(ms.keystore)
        try:
            doc = json.loads(path.read_text())
        except OSError as e:
            raise BadInput(f"minting.keystore: cannot read {path} ({e.strerror})") from None
        except ValueError:
            raise BadInput(f"minting.keystore: {path} is not a JSON keystore file") from None
        if not isinstance(doc, dict) or ("crypto" not in doc and "Crypto" not in doc):
            raise BadInput(f"minting.keystore: {path} is not an encrypted keystore (V3 JSON with 'crypto')")
        password = environ.get(ms.keystore_password_env)
        if password is None:
            raise BadInput(f"minting.keystore is set but the environment variable {ms.keystore_password_env} "
                           "(its password) is not")
        try:
            key = Account.decrypt(doc, password)
        except Exception:  # noqa: BLE001 - whatever went wrong, the message must not carry secrets
            raise BadInput(f"minting.keystore: cannot decrypt {path} (wrong password or damaged file)") from None
        return Signer(Account.from_key(key))
    raw = environ.get(ms.key_env)
    if raw is None:
        raise BadInput(f"no minting key: set the environment variable {ms.key_env} (hex private key) "
                       "or minting.keystore (an encrypted keystore file)")
    raw = raw.strip()
    if not re.fullmatch(r"(0x)?[0-9a-fA-F]{64}", raw):
        raise BadInput(f"the environment variable {ms.key_env} is not a private key (64 hex digits)")
    try:
        return Signer(Account.from_key(raw))
    except Exception:  # noqa: BLE001 - any refusal means not a key; the error must not carry it
        raise BadInput(f"the environment variable {ms.key_env} is not a valid secp256k1 private key") from None


# -- connecting ---------------------------------------------------------------------------------

def in_process_web3() -> Any:
    """A fresh throwaway in-process chain (eth-tester on py-evm), gone with the process: for the tests.
    The chain kept between commands under data_dir is `minting.devchain`."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    return Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))


def connect(ms: MintingSettings) -> Any:
    from web3 import HTTPProvider, Web3

    if not ms.rpc_url:
        raise BadInput("minting.rpc_url is empty: that is the local dev chain under data_dir "
                       "(minting.flow.open_context opens it), not an endpoint")
    if ms.rpc_url == "eth-tester":
        return in_process_web3()
    w3 = Web3(HTTPProvider(ms.rpc_url, request_kwargs={"timeout": 30}))
    try:
        w3.eth.chain_id  # noqa: B018 - probe the endpoint
    except Exception as e:  # noqa: BLE001 - any transport error means unreachable (only its type is shown)
        raise GalleryError(f"cannot reach the chain at minting.rpc_url {_redact_url(ms.rpc_url)}: "
                           f"{type(e).__name__}") from None
    return w3


def fund_from_dev_account(w3: Any, address: str, wei: int) -> None:
    """Give `address` ether from the node's first unlocked account (in-process or local dev nodes only)."""
    src = w3.eth.accounts[0]
    h = w3.eth.send_transaction({"from": src, "to": address, "value": wei})
    w3.eth.wait_for_transaction_receipt(h, timeout=30)


# -- the journalled sender ----------------------------------------------------------------------

@dataclass
class Chain:
    """A checked connection: right chain id, a signer, the catalogue journal."""

    w3: Any
    ms: MintingSettings
    signer: Signer | NoKey
    catalogue: Any
    chain_id: int = 0
    poll_s: float = 0.2
    sent: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        actual = int(self.w3.eth.chain_id)
        if actual != self.ms.chain_id:
            raise BadInput(f"the chain at minting.rpc_url reports chain id {actual}, "
                           f"but config.yaml says minting.chain_id: {self.ms.chain_id}; refusing to sign")
        self.chain_id = actual

    # fees
    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a new transaction, within the ceiling."""
        ceiling = int(self.ms.max_fee_gwei * GWEI)
        tip = int(self.ms.priority_fee_gwei * GWEI)
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas") or 0)
        if base + tip > ceiling:
            raise GalleryError(f"the base fee is {base / GWEI:.3f} gwei (+ {tip / GWEI:.3f} tip), above "
                               f"minting.max_fee_gwei {self.ms.max_fee_gwei}; wait or raise the ceiling")
        return min(ceiling, 2 * base + tip), tip

    def balance(self) -> int:
        return int(self.w3.eth.get_balance(self.signer.address))

    # journal
    def _journal(self, **kw: Any) -> int:
        with self.catalogue.write() as s:
            row = MintTx(chain_id=self.chain_id, sender=self.signer.address, **kw)
            s.add(row)
            s.flush()
            return row.id

    def _update(self, tx_id: int, **kw: Any) -> None:
        with self.catalogue.write() as s:
            row = s.get(MintTx, tx_id)
            for k, v in kw.items():
                setattr(row, k, v)

    def pending(self) -> list[MintTx]:
        with self.catalogue.read() as s:
            return list(s.scalars(select(MintTx).where(
                MintTx.chain_id == self.chain_id, MintTx.sender == self.signer.address,
                MintTx.state.in_(("signed", "sent"))).order_by(MintTx.nonce, MintTx.id)))

    def _sign(self, tx: dict[str, Any], max_fee: int, tip: int) -> Any:
        return self.signer.sign({**tx, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip})

    def _broadcast(self, raw: bytes) -> None:
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as e:  # noqa: BLE001 - nodes differ in error types: read by their message below
            msg = str(e).lower()
            if "already known" in msg or "known transaction" in msg or "already imported" in msg:
                return
            if "nonce too low" in msg:  # mined already (or replaced): the receipt look-up decides
                return
            raise GalleryError(f"the node refused the transaction: {_short(e)}") from None

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        from web3.exceptions import TransactionNotFound

        try:
            r = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            return None
        if r is None:
            return None
        return {"status": int(r["status"]), "gasUsed": int(r["gasUsed"]), "blockNumber": int(r["blockNumber"]),
                "contractAddress": r.get("contractAddress"), "transactionHash": _hex(r["transactionHash"])}

    def send(self, purpose: str, tx: dict[str, Any], *, collection_id: int | None = None,
             contract: str | None = None, payload: dict[str, Any] | None = None,
             on_journal: Any = None) -> dict[str, Any]:
        """Sign, journal, send, and wait (bumping fees when stuck); returns the receipt."""
        if isinstance(self.signer, NoKey):
            raise BadInput(f"no minting key: set the environment variable {self.ms.key_env} or minting.keystore")
        if self.pending():
            raise GalleryError("unsettled journalled transactions remain; reconcile first")
        nonce = int(self.w3.eth.get_transaction_count(self.signer.address, "pending"))
        base_tx = {"type": 2, "chainId": self.chain_id, "nonce": nonce, "value": 0, **tx}
        if "gas" not in base_tx:
            est = self.w3.eth.estimate_gas({"from": self.signer.address, **tx})
            base_tx["gas"] = int(est * 1.2) + 10_000
        max_fee, tip = self.fees()
        signed = self._sign(base_tx, max_fee, tip)
        unsigned = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in base_tx.items()}
        tx_id = self._journal(nonce=nonce, purpose=purpose, collection_id=collection_id, contract=contract,
                              tx_hash=_hex(signed.hash), raw_tx=_hex(signed.raw_transaction),
                              max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip,
                              payload={**(payload or {}), "tx": unsigned}, state="signed")
        log.info("journalled %s tx nonce %d %s", purpose, nonce, _hex(signed.hash))
        if on_journal is not None:
            on_journal(_hex(signed.hash))
        return self._settle(tx_id)

    def _settle(self, tx_id: int) -> dict[str, Any]:
        """Send (again) the journalled transaction and wait for it; bump its fees while stuck."""
        with self.catalogue.read() as s:
            row = s.get(MintTx, tx_id)
            raw, tx_hash, state = row.raw_tx, row.tx_hash, row.state
            nonce = row.nonce
            others = [r.tx_hash for r in s.scalars(select(MintTx).where(
                MintTx.chain_id == self.chain_id, MintTx.sender == self.signer.address, MintTx.nonce == nonce))]
        for h in others:  # a replacement or the original may already be mined
            rec = self._receipt(h)
            if rec:
                return self._finish(nonce, h, rec)
        if self.w3.eth.get_transaction_count(self.signer.address, "latest") > nonce:
            # the nonce is used, but by none of the journalled hashes: dropped/replaced outside this journal
            self._mark_nonce(nonce, "failed", {"reason": "nonce used by a transaction outside the journal"})
            raise GalleryError(f"nonce {nonce} was used by a transaction that is not in the journal")
        self._broadcast(bytes.fromhex(raw[2:]))
        if state == "signed":
            self._update(tx_id, state="sent")
        self.sent.append(tx_hash)
        bumps = 0
        while True:
            deadline = time.monotonic() + self.ms.receipt_timeout_s
            while time.monotonic() < deadline:
                for h in [tx_hash, *others]:
                    rec = self._receipt(h)
                    if rec:
                        return self._finish(nonce, h, rec)
                time.sleep(self.poll_s)
            if bumps >= self.ms.max_fee_bumps:
                raise GalleryError(f"no receipt for {tx_hash} (nonce {nonce}) after {bumps} fee bumps; "
                                   "rerun later to reconcile (the transaction stays journalled)")
            tx_id, tx_hash = self._bump(tx_id)
            others.append(tx_hash)
            bumps += 1

    def _bump(self, tx_id: int) -> tuple[int, str]:
        with self.catalogue.read() as s:
            row = s.get(MintTx, tx_id)
            old_fee, old_tip = row.max_fee_per_gas, row.max_priority_fee_per_gas
            payload, nonce = dict(row.payload), row.nonce
            purpose, coll, contract = row.purpose, row.collection_id, row.contract
        ceiling = int(self.ms.max_fee_gwei * GWEI)
        factor = 1 + self.ms.fee_bump_percent / 100
        fee, tip = int(old_fee * factor) + 1, int(old_tip * factor) + 1
        if fee > ceiling:
            raise GalleryError(f"transaction nonce {nonce} is stuck and a {self.ms.fee_bump_percent}% bump "
                               f"({fee / GWEI:.3f} gwei) would pass minting.max_fee_gwei {self.ms.max_fee_gwei}")
        tx = dict(payload["tx"])
        if isinstance(tx.get("data"), str) and not tx["data"].startswith("0x"):
            tx["data"] = "0x" + tx["data"]
        signed = self._sign(tx, fee, tip)
        new_id = self._journal(nonce=nonce, purpose=purpose, collection_id=coll, contract=contract,
                               tx_hash=_hex(signed.hash), raw_tx=_hex(signed.raw_transaction),
                               max_fee_per_gas=fee, max_priority_fee_per_gas=tip,
                               payload={**payload, "replaces": tx_id}, state="signed")
        log.warning("nonce %d stuck: replacing with fees %.3f/%.3f gwei", nonce, fee / GWEI, tip / GWEI)
        self._broadcast(signed.raw_transaction)
        self._update(new_id, state="sent")
        return new_id, _hex(signed.hash)

    def _mark_nonce(self, nonce: int, state: str, receipt: dict[str, Any]) -> None:
        with self.catalogue.write() as s:
            for r in s.scalars(select(MintTx).where(MintTx.chain_id == self.chain_id,
                                                    MintTx.sender == self.signer.address, MintTx.nonce == nonce)):
                if r.state in ("signed", "sent"):
                    r.state, r.receipt = state, receipt

    def _finish(self, nonce: int, tx_hash: str, rec: dict[str, Any]) -> dict[str, Any]:
        with self.catalogue.write() as s:
            for r in s.scalars(select(MintTx).where(MintTx.chain_id == self.chain_id,
                                                    MintTx.sender == self.signer.address, MintTx.nonce == nonce)):
                if r.tx_hash == tx_hash:
                    r.state, r.receipt = ("confirmed" if rec["status"] == 1 else "failed"), rec
                elif r.state in ("signed", "sent"):
                    r.state = "replaced"
        return {**rec, "tx_hash": tx_hash}

    def reconcile(self) -> list[dict[str, Any]]:
        """Settle every journalled transaction a previous run left unsettled (oldest nonce first)."""
        done = []
        seen: set[int] = set()
        for row in self.pending():
            if row.nonce in seen:
                continue
            seen.add(row.nonce)
            latest = max((r for r in self.pending() if r.nonce == row.nonce), key=lambda r: r.id, default=None)
            if latest is None:
                continue
            log.info("reconciling journalled %s tx nonce %d", latest.purpose, latest.nonce)
            done.append({"purpose": latest.purpose, "nonce": latest.nonce, **self._settle(latest.id)})
        return done


def _redact_url(url: str) -> str:
    """Scheme and host only: RPC URLs often carry an API key in the path or query."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "") + ("/…" if parts.path.strip("/") or parts.query else "")


def _hex(b: Any) -> str:
    if isinstance(b, str):
        return b if b.startswith("0x") else "0x" + b
    return "0x" + bytes(b).hex()


def _short(e: Exception) -> str:
    """An exception's message without anything that looks like a key or raw signed data."""
    msg = re.sub(r"0x[0-9a-fA-F]{100,}", "0x…", str(e))
    return re.sub(r"[0-9a-fA-F]{64}", "…", msg)[:300]
