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
