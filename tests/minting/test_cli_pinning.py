"""`gallery mint` as a user runs it (exit codes, messages, no secrets) and the pinning-service upload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gallery.errors import BadInput, GalleryError

REPO = Path(__file__).resolve().parents[2]
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def gallery(config: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=e)


def test_cli_refusals_exit_2_without_leaking_the_key(config_file):
    r = gallery(config_file, "mint", "status", "--json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    # rpc_url empty is the local dev chain: a key given there is used, and funded from the dev account, saying so
    r = gallery(config_file, "mint", "deploy", env={"GALLERY_MINT_KEY": KEY})
    assert r.returncode == 0, r.stderr
    assert "local dev chain: gave 0x" in r.stderr and "ETH from its dev account" in r.stderr
    assert "built-in funded dev account" not in r.stderr  # the user's key, not the dev account
    assert KEY[2:] not in r.stderr + r.stdout
    # … and only with its own chain id
    local1 = config_file.parent / "local1.yaml"
    local1.write_text(config_file.read_text() + "minting:\n  chain_id: 1\n")
    r = gallery(local1, "mint", "deploy")
    assert r.returncode == 2 and "refusing to sign" in r.stderr and "local dev chain" in r.stderr
    cfg = config_file.parent / "tester.yaml"
    cfg.write_text(config_file.read_text() + "minting:\n  rpc_url: eth-tester\n")
    r = gallery(cfg, "mint", "deploy")
    assert r.returncode == 2 and "GALLERY_MINT_KEY" in r.stderr
    r = gallery(cfg, "mint", "deploy", env={"GALLERY_MINT_KEY": KEY})  # an account with no ether
    assert r.returncode == 2 and "below the estimated cost of deploy" in r.stderr and "gas at up to" in r.stderr
    assert KEY[2:] not in r.stderr + r.stdout
    wrong = config_file.parent / "wrong.yaml"
    wrong.write_text(config_file.read_text() + "minting:\n  rpc_url: eth-tester\n  chain_id: 1\n")
    r = gallery(wrong, "mint", "deploy", env={"GALLERY_MINT_KEY": KEY})
    assert r.returncode == 2 and "refusing to sign" in r.stderr


class _Plan:
    def __init__(self, car: Path, root: str) -> None:
        self.car, self.root, self.collection_id = car, root, 1


def _service(log: list, statuses: list[str], upload_status: int = 200):
    import httpx

    def handler(req: httpx.Request) -> httpx.Response:
        log.append((req.method, req.url.path, req.headers.get("authorization"), req.headers.get("content-type")))
        if req.url.path == "/upload":
            return httpx.Response(upload_status, json={"ok": True})
        if req.method == "POST" and req.url.path == "/psa/pins":
            body = json.loads(req.content)
            return httpx.Response(202, json={"requestid": "r1", "status": "queued", "pin": body})
        if req.method == "GET" and req.url.path == "/psa/pins/r1":
            return httpx.Response(200, json={"requestid": "r1", "status": statuses.pop(0)})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_upload_car_and_pin(settings, tmp_path):
    from minting.pinning import upload_and_pin

    ms = settings.minting.model_copy(update={"pinning_url": "https://pins.example/psa",
                                             "car_upload_url": "https://pins.example/upload"})
    car = tmp_path / "set.car"
    car.write_bytes(b"\x0acar-bytes")
    log: list = []
    res = upload_and_pin(ms, car, "bafyroot", "set-1", {"GALLERY_PINNING_TOKEN": "s3cret"},
                         client=_service(log, ["pinning", "pinned"]), poll_s=0)
    assert res["status"] == "pinned" and res["uploaded_bytes"] == 10
    assert [entry[:2] for entry in log] == [("POST", "/upload"), ("POST", "/psa/pins"), ("GET", "/psa/pins/r1"),
                                            ("GET", "/psa/pins/r1")]
    assert all(a == "Bearer s3cret" for _, _, a, _ in log) and log[0][3] == "application/vnd.ipld.car"
    with pytest.raises(GalleryError, match="reports 'failed'"):
        upload_and_pin(ms, car, "bafyroot", "set-1", {"GALLERY_PINNING_TOKEN": "s3cret"},
                       client=_service([], ["failed"]), poll_s=0)
    with pytest.raises(BadInput, match="refused the token") as e:
        upload_and_pin(ms, car, "bafyroot", "set-1", {"GALLERY_PINNING_TOKEN": "s3cret"},
                       client=_service([], [], upload_status=401), poll_s=0)
    assert "s3cret" not in str(e.value)
    with pytest.raises(BadInput, match="GALLERY_PINNING_TOKEN"):
        upload_and_pin(ms, car, "bafyroot", "set-1", {}, client=_service([], []))
