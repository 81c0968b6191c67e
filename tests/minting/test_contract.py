"""The committed ABI + bytecode artefact is what a fresh solc-js compile of the sources gives."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "minting" / "contracts"
ARTEFACT = REPO / "minting" / "artefacts" / "contracts.json"


def test_artefact_names_pinned_toolchain():
    art = json.loads(ARTEFACT.read_text())
    assert art["compiler"]["solc"].startswith("0.8.37+")
    assert art["compiler"]["evmVersion"] == "cancun" and art["compiler"]["optimizerRuns"] == 200
    assert art["libraries"] == {"erc721a": "4.3.0", "@openzeppelin/contracts": "5.7.0"}
    names = {f["name"] for f in art["contracts"]["LatentGallerySet"]["abi"] if f.get("type") == "function"}
    assert {"mintBatch", "setBaseURI", "freezeBaseURI", "contractURI", "royaltyInfo", "owner",
            "tokenURI", "nextTokenId"} <= names


@pytest.mark.node
def test_committed_artefact_equals_fresh_compile(tmp_path):
    if not (CONTRACTS / "node_modules" / "solc").exists():
        pytest.skip("solc-js is not installed: run `make node-deps`")
    out = tmp_path / "fresh.json"
    r = subprocess.run(["node", "compile.js", str(out)], cwd=CONTRACTS, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == json.loads(ARTEFACT.read_text())


def test_chunked_batch_owners_transfers_and_guards():
    """A batch minted in chunks keeps every owner right; only the owner mints; frozen means frozen."""
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import EthereumTesterProvider, Web3

    from minting.chain import contract_interface

    w3 = Web3(EthereumTesterProvider(EthereumTester(PyEVMBackend())))
    owner, holder, other = w3.eth.accounts[:3]
    abi, code = contract_interface()
    h = w3.eth.contract(abi=abi, bytecode=code).constructor(
        "Set", "SET", "ipfs://a/", "ipfs://c", owner, 750, 8, owner).transact({"from": owner})
    k = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(h).contractAddress, abi=abi)

    def tx(fn, sender=owner):
        return w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))

    r = tx(k.functions.mintBatch(holder, 1, 40))
    assert len(k.events.Transfer().process_receipt(r)) == 40  # one ERC-721 Transfer event per token
    assert k.functions.ownershipStride().call() == 8
    assert [k.functions.ownerOf(t).call() for t in range(1, 41)] == [holder] * 40
    tx(k.functions.transferFrom(holder, other, 13), holder)
    tx(k.functions.transferFrom(holder, other, 40), holder)
    owners = [k.functions.ownerOf(t).call() for t in range(1, 41)]
    assert [t for t, o in enumerate(owners, 1) if o == other] == [13, 40]
    assert k.functions.balanceOf(holder).call() == 38
    assert k.functions.royaltyInfo(40, 10_000).call() == [owner, 750]
    assert k.functions.tokenURI(7).call() == "ipfs://a/7"
    with pytest.raises(Exception):  # noqa: B017, PT011 - a revert (its type and text depend on the node): not the owner
        k.functions.mintBatch(holder, 41, 1).call({"from": holder})
    with pytest.raises(Exception):  # noqa: B017, PT011 - wrong first id
        k.functions.mintBatch(holder, 40, 1).call({"from": owner})
    with pytest.raises(Exception):  # noqa: B017, PT011 - zero tokens
        k.functions.mintBatch(holder, 41, 0).call({"from": owner})
    tx(k.functions.setBaseURI("ipfs://b/"))
    assert k.functions.tokenURI(7).call() == "ipfs://b/7"
    tx(k.functions.freezeBaseURI())
    with pytest.raises(Exception):  # noqa: B017, PT011 - frozen for good
        k.functions.setBaseURI("ipfs://c/").call({"from": owner})
    assert k.functions.baseURI().call() == "ipfs://b/"
