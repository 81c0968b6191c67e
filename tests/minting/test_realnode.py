"""Once against a real JSON-RPC node (hardhat from npm, on 127.0.0.1, started here): deploy, mint a
set of 20 with `gallery mint set`, SIGKILL the minting process halfway, rerun, verify 20 tokens."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from catalogue.models import MintTx
from tests.minting.helpers import add_artworks, make_set

pytestmark = pytest.mark.node
REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "minting" / "contracts"
HARDHAT = CONTRACTS / "node_modules" / "hardhat" / "internal" / "cli" / "bootstrap.js"
GALLERY = [sys.executable, "-m", "gallery.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hardhat_node(tmp_path):
    if not HARDHAT.exists():
        pytest.skip("hardhat is not installed: run `make node-deps`")
    port = _free_port()
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true", "HARDHAT_INTERVAL_MS": "400",
           "HOME": str(tmp_path)}
    log = open(tmp_path / "hardhat.log", "w")  # noqa: SIM115 - closed when the node is stopped
    proc = subprocess.Popen(["node", str(HARDHAT), "node", "--hostname", "127.0.0.1", "--port", str(port)],
                            cwd=CONTRACTS, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(url))
    deadline = time.monotonic() + 90
    while True:
        try:
            if w3.eth.chain_id == 31337:
                break
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("hardhat node did not start: " + (tmp_path / "hardhat.log").read_text()[-2000:])
        time.sleep(0.5)
    try:
        yield url, w3
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_sigkill_halfway_then_rerun_mints_exactly_20(hardhat_node, tmp_path, data_dir):
    url, w3 = hardhat_node
    from eth_account import Account

    from catalogue import open_catalogue
    from gallery.config import load_settings
    from minting.chain import fund_from_dev_account

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"data_dir: {data_dir}\ncatalogue:\n  fsync: false\nminting:\n  rpc_url: {url}\n"
                   "  chain_id: 31337\n  batch_size: 5\n  receipt_timeout_s: 60\n")
    acct = Account.create()
    fund_from_dev_account(w3, acct.address, 10**19)
    env = {**os.environ, "GALLERY_MINT_KEY": acct.key.hex(), "GALLERY_CONFIG": str(cfg)}
    cat = open_catalogue(load_settings(cfg, environ={}))
    sid = make_set(cat, add_artworks(cat, 20), title="Twenty")

    dep = subprocess.run([*GALLERY, "mint", "deploy", "--json"], env=env, capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert dep.returncode == 0, dep.stderr
    address = json.loads(dep.stdout)["contract"]

    # mint, and SIGKILL the process once two of the four batches are journalled
    proc = subprocess.Popen([*GALLERY, "mint", "set", str(sid)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while True:
        with cat.read() as s:
            n = len(s.scalars(select(MintTx).where(MintTx.purpose == "mint")).all())
        if n >= 2 or proc.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the minting process ended before it could be killed halfway"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    from minting.chain import contract_interface

    k = w3.eth.contract(address=address, abi=contract_interface()[0])
    time.sleep(1.0)  # let the node mine whatever was sent
    halfway = k.functions.totalMinted().call()
    assert halfway < 20

    again = subprocess.run([*GALLERY, "mint", "set", str(sid), "--json"], env=env, capture_output=True,
                           text=True, cwd=REPO, timeout=180)
    assert again.returncode == 0, again.stderr
    res = json.loads(again.stdout)
    assert res["minted"] == 20

    ver = subprocess.run([*GALLERY, "mint", "verify", str(sid), "--json"], env=env, capture_output=True,
                         text=True, cwd=REPO, timeout=120)
    assert ver.returncode == 0, ver.stdout + ver.stderr
    v = json.loads(ver.stdout)
    assert v["ok"] and v["tokens"] == 20 and v["total_minted"] == 20
    assert k.functions.totalMinted().call() == 20
    base = k.functions.baseURI().call()
    assert [k.functions.tokenURI(t).call() for t in range(1, 21)] == [f"{base}{t}" for t in range(1, 21)]
    assert {k.functions.ownerOf(t).call() for t in range(1, 21)} == {acct.address}
    with cat.read() as s:
        mints = s.scalars(select(MintTx).where(MintTx.purpose == "mint", MintTx.state == "confirmed")).all()
        assert sum(t.payload["quantity"] for t in mints) == 20
        assert sorted(t.payload["first"] for t in mints) == [1, 6, 11, 16]
    cat.close()


def test_stuck_transaction_is_replaced_with_higher_fees(hardhat_node, settings, catalogue):
    """Mining stopped: no receipt in time, so the same nonce goes out again with bumped fees, and the node
    takes the replacement (it wants >= 10% more); the journal keeps both, the old one `replaced`."""
    url, w3 = hardhat_node
    from eth_account import Account

    from minting import flow
    from minting.chain import fund_from_dev_account

    acct = Account.create()
    fund_from_dev_account(w3, acct.address, 10**19)
    ms = settings.minting.model_copy(update={"rpc_url": url, "chain_id": 31337, "receipt_timeout_s": 1.5})
    mc = flow.open_context(settings.model_copy(update={"minting": ms}), catalogue,
                           environ={"GALLERY_MINT_KEY": acct.key.hex()})
    flow.deploy(mc)
    k = flow.contract(mc)
    w3.provider.make_request("evm_setIntervalMining", [0])
    w3.provider.make_request("evm_setAutomine", [False])
    real_bump = mc.chain._bump

    def bump_then_mine(tx_id):
        out = real_bump(tx_id)
        w3.provider.make_request("evm_mine", [])
        return out

    mc.chain._bump = bump_then_mine
    rec = mc.chain.send("set-contract-uri", {"to": k.address, "data": k.functions.setContractURI(
        "ipfs://replaced")._encode_transaction_data()}, contract=k.address)
    assert rec["status"] == 1
    with catalogue.read() as s:
        rows = list(s.scalars(select(MintTx).where(MintTx.purpose == "set-contract-uri").order_by(MintTx.id)))
    assert [r.state for r in rows] == ["replaced", "confirmed"] and rows[0].nonce == rows[1].nonce
    assert rec["tx_hash"] == rows[1].tx_hash
    assert rows[1].max_fee_per_gas >= rows[0].max_fee_per_gas * 1.1
    assert k.functions.contractURI().call() == "ipfs://replaced"
