"""The mint flow on the in-process chain (eth-tester + py-evm)."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from catalogue.models import Mint, MintTx
from gallery.errors import BadInput, GalleryError
from minting import flow
from minting.cid import file_cid, read_car
from tests.minting.helpers import add_artworks, make_set


def test_deploy_mint_verify_two_sets(mc, catalogue, w3):
    dep = flow.deploy(mc)
    assert dep["deployed"] and w3.eth.get_code(dep["contract"])
    assert flow.deploy(mc)["deployed"] is False  # idempotent: the journal knows the contract
    k = flow.contract(mc)
    assert k.functions.owner().call() == mc.chain.signer.address
    assert k.functions.royaltyInfo(1, 10_000).call() == [mc.chain.signer.address, 500]
    assert k.functions.supportsInterface("0x2a55205a").call()  # EIP-2981
    assert k.functions.supportsInterface("0x80ac58cd").call()  # ERC-721
    assert k.functions.contractURI().call().startswith("ipfs://bafkrei")

    s1 = make_set(catalogue, add_artworks(catalogue, 10))
    dry = flow.mint_set(mc, s1, dry_run=True)
    assert dry["to_mint"] == 10 and dry["batches"] == 3 and dry["estimated_gas"] > 0
    assert k.functions.totalMinted().call() == 0  # a dry run sends nothing
    res = flow.mint_set(mc, s1)
    assert res["minted"] == 10
    assert k.functions.totalMinted().call() == 10
    base = k.functions.baseURI().call()
    assert base == res["base_uri"] and base.startswith("ipfs://bafybei")
    assert [k.functions.tokenURI(t).call() for t in range(1, 11)] == [f"{base}{t}" for t in range(1, 11)]
    v = flow.verify(mc, s1)
    assert v["ok"], v["problems"]
    with open(res["car"], "rb") as f:
        roots, blocks = read_car(f.read())  # the CAR holds the whole directory
    assert [str(r) for r in roots] == [res["root"]] and len(blocks) == 10 + 10 + 2  # metadata, images, 2 dirs

    # one mint transaction per batch of 4, journalled with nonce and hash, all confirmed
    with catalogue.read() as s:
        txs = list(s.scalars(select(MintTx).where(MintTx.purpose == "mint").order_by(MintTx.nonce)))
        assert [t.payload["quantity"] for t in txs] == [4, 4, 2]
        assert all(t.state == "confirmed" and t.tx_hash and t.raw_tx for t in txs)
        mints = list(s.scalars(select(Mint).order_by(Mint.token_id)))
        assert [m.token_id for m in mints] == list(range(1, 11))
        assert all(m.tx_hash in {t.tx_hash for t in txs} for m in mints)
        doc = json.loads(mints[0].extra["metadata"])
        assert str(file_cid(mints[0].extra["metadata"].encode())) == mints[0].metadata_cid
    assert doc["name"] == "Field 0" and doc["image"].startswith("ipfs://bafkrei")
    assert {"trait_type": "seed", "value": 0} in doc["attributes"]
    assert {"trait_type": "prompt", "value": "a quiet field 0"} in doc["attributes"]
    assert "animation_url" not in doc

    # rerun: nothing more to send
    again = flow.mint_set(mc, s1)
    assert again["to_mint"] == 0 and k.functions.totalMinted().call() == 10

    # a second set (walks with video) continues the ids; the first set still verifies
    s2 = make_set(catalogue, add_artworks(catalogue, 3, kind="walk", start=50), title="Walks")
    d2 = flow.mint_set(mc, s2, dry_run=True)  # a dry run reserves nothing and changes no recorded URI
    with catalogue.read() as s:
        assert not s.scalars(select(Mint).where(Mint.collection_id == s2)).all()
    assert flow.verify(mc, s1)["ok"]
    r2 = flow.mint_set(mc, s2)
    assert r2["root"] == d2["root"] and r2["token_uris"] == d2["token_uris"]
    assert r2["token_uris"] == [f"{r2['base_uri']}{t}" for t in (11, 12, 13)]
    assert flow.verify(mc, s1)["ok"] and flow.verify(mc, s2)["ok"]
    with catalogue.read() as s:
        walk = json.loads(s.scalars(select(Mint).where(Mint.token_id == 11)).one().extra["metadata"])
    assert walk["animation_url"].startswith("ipfs://bafkrei")
    assert {"trait_type": "duration (s)", "value": 4.0, "display_type": "number"} in walk["attributes"]

    # verify reads the chain: a base URI changed behind the catalogue's back is reported
    good = k.functions.baseURI().call()
    mc.chain.send("set-base-uri", {"to": k.address, "data": k.functions.setBaseURI(
        "ipfs://elsewhere/")._encode_transaction_data()}, contract=k.address)
    bad = flow.verify(mc, s1)
    assert not bad["ok"] and "token 1: tokenURI ipfs://elsewhere/1" in bad["problems"][0]
    assert "no CAR for the base URI's root elsewhere" in bad["notes"][0]
    mc.chain.send("set-base-uri", {"to": k.address, "data": k.functions.setBaseURI(
        good)._encode_transaction_data()}, contract=k.address)
    assert flow.verify(mc, s1)["ok"]

    # freeze for good: the base URI cannot change, no new set can be added
    flow.freeze(mc)
    assert k.functions.baseURIFrozen().call()
    s3 = make_set(catalogue, add_artworks(catalogue, 1, start=90), title="Late")
    with pytest.raises(BadInput, match="frozen for good"):
        flow.mint_set(mc, s3)
    with catalogue.read() as s:
        assert not s.scalars(select(Mint).where(Mint.collection_id == s3)).all()  # nothing planned
    assert flow.mint_set(mc, s1)["to_mint"] == 0  # a minted set is still fine to rerun


def test_crash_after_journal_before_send_is_reconciled(mc, catalogue, monkeypatch):
    """A run dies right after journalling (signed, not sent): the rerun sends that same tx, no double mint."""
    flow.deploy(mc)
    sid = make_set(catalogue, add_artworks(catalogue, 9))
    real = mc.chain._broadcast
    calls = {"n": 0}

    def dying(raw):
        calls["n"] += 1
        if calls["n"] == 3:  # setBaseURI, mint #1, then die before mint #2 reaches the node
            raise KeyboardInterrupt("simulated crash")
        return real(raw)

    monkeypatch.setattr(mc.chain, "_broadcast", dying)
    with pytest.raises(KeyboardInterrupt):
        flow.mint_set(mc, sid)
    monkeypatch.setattr(mc.chain, "_broadcast", real)
    k = flow.contract(mc)
    assert k.functions.totalMinted().call() == 4
    assert flow.status(catalogue, sid)[0]["states"] == {"confirmed": 4, "sent": 4, "planned": 1}
    with catalogue.read() as s:
        stuck = s.scalars(select(MintTx).where(MintTx.state == "signed")).one()
        stuck_hash = stuck.tx_hash
    res = flow.mint_set(mc, sid)
    assert res["reconciled"] == 1 and res["minted"] == 9
    assert k.functions.totalMinted().call() == 9
    with catalogue.read() as s:
        assert s.scalars(select(MintTx).where(MintTx.tx_hash == stuck_hash)).one().state == "confirmed"
        assert len(s.scalars(select(MintTx).where(MintTx.purpose == "mint")).all()) == 3
    assert flow.verify(mc, sid)["ok"]


def test_replayed_mint_transaction_cannot_mint_twice(mc, catalogue, w3):
    uploads = []
    flow.deploy(mc, upload=lambda car, root: uploads.append((car.name, root)) or {"status": "pinned"})
    sid = make_set(catalogue, add_artworks(catalogue, 3))

    def upload(plan):  # the CAR goes to the pinning service before anything points at it on chain
        uploads.append((plan.car.name, plan.root))
        assert plan.car.is_file() and flow.contract(mc).functions.baseURI().call() == ""
        return {"status": "pinned"}

    res = flow.mint_set(mc, sid, upload=upload)
    assert res["pinned"] == {"status": "pinned"}
    assert uploads[0][0] == "contract.car" and uploads[1] == (f"{res['root']}.car", res["root"])
    k = flow.contract(mc)
    me = mc.chain.signer.address
    with pytest.raises(Exception, match=r"revert|UnexpectedFirstToken|0x"):
        k.functions.mintBatch(me, 1, 3).call({"from": me})
    assert k.functions.totalMinted().call() == 3


def test_fee_bump_replaces_a_stuck_transaction(mc, catalogue, monkeypatch):
    """No receipt within the timeout: the same nonce is re-signed with higher fees and journalled."""
    flow.deploy(mc)
    mc.ms.receipt_timeout_s = 0.3
    mc.chain.poll_s = 0.05
    dropped = {"n": 0}
    real = mc.chain._broadcast

    def drop_first(raw):
        dropped["n"] += 1
        if dropped["n"] > 1:
            return real(raw)

    monkeypatch.setattr(mc.chain, "_broadcast", drop_first)
    k = flow.contract(mc)
    rec = mc.chain.send("set-contract-uri", {"to": k.address, "data": k.functions.setContractURI(
        "ipfs://x")._encode_transaction_data()}, contract=k.address)
    assert rec["status"] == 1
    with catalogue.read() as s:
        rows = list(s.scalars(select(MintTx).where(MintTx.purpose == "set-contract-uri").order_by(MintTx.id)))
    assert [r.state for r in rows] == ["replaced", "confirmed"]
    assert rows[0].nonce == rows[1].nonce
    assert rows[1].max_fee_per_gas > rows[0].max_fee_per_gas * 1.14
    assert rows[1].max_priority_fee_per_gas > rows[0].max_priority_fee_per_gas * 1.14
    assert k.functions.contractURI().call() == "ipfs://x"


def test_fee_ceiling_stops_bumping(mc, monkeypatch):
    flow.deploy(mc)
    mc.ms.receipt_timeout_s = 0.2
    mc.chain.poll_s = 0.05
    mc.ms.max_fee_gwei = 2 * mc.chain.fees()[0] / 1e9 * 1.0 + 0.001  # room for barely one bump
    mc.ms.max_fee_bumps = 10
    monkeypatch.setattr(mc.chain, "_broadcast", lambda raw: None)  # never mined
    k = flow.contract(mc)
    with pytest.raises(GalleryError, match="max_fee_gwei"):
        mc.chain.send("set-contract-uri", {"to": k.address, "data": k.functions.setContractURI(
            "ipfs://y")._encode_transaction_data()}, contract=k.address)


def test_refusals(mint_settings, catalogue, w3, key, mc):
    from minting.flow import open_context

    # wrong chain id in config
    bad = mint_settings.model_copy(update={"minting": mint_settings.minting.model_copy(update={"chain_id": 1})})
    with pytest.raises(BadInput, match=r"chain id 131277322940537.*chain_id: 1"):
        open_context(bad, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": key})
    # key not in the environment, or not a key
    with pytest.raises(BadInput, match="GALLERY_MINT_KEY"):
        open_context(mint_settings, catalogue, w3=w3, environ={})
    with pytest.raises(BadInput, match="not a private key") as e:
        open_context(mint_settings, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": key[:-2]})
    assert key[4:-4] not in str(e.value)
    # unfrozen set, unknown set
    flow.deploy(mc)
    loose = make_set(catalogue, add_artworks(catalogue, 2), frozen=False)
    with pytest.raises(BadInput, match="not frozen"):
        flow.mint_set(mc, loose)
    with pytest.raises(BadInput, match="no collection"):
        flow.mint_set(mc, 999)
    with pytest.raises(BadInput, match="not frozen"):
        flow.verify(mc, loose)
    # balance too low: the estimate is shown
    from eth_account import Account

    poor = Account.create()
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": poor.address, "value": 10**12})
    pmc = open_context(mint_settings, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": poor.key.hex()})
    with pytest.raises(BadInput, match=r"below the estimated cost of deploy: [\d,]+ gas at up to"):
        flow.deploy(pmc)


def test_key_never_in_logs_catalogue_or_errors(mc, catalogue, key, caplog, settings, tmp_path):
    caplog.set_level(logging.DEBUG)
    flow.deploy(mc)
    sid = make_set(catalogue, add_artworks(catalogue, 2))
    flow.mint_set(mc, sid)
    bare = key.removeprefix("0x").lower()
    assert bare not in caplog.text.lower()
    assert bare not in repr(mc.chain.signer).lower()
    db = (settings.data_dir / "catalogue.sqlite").read_bytes()
    assert bytes.fromhex(bare) not in db and bare.encode() not in db.lower()
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(mc.chain.signer)


def test_encrypted_keystore(mint_settings, catalogue, w3, key, tmp_path):
    from eth_account import Account

    from minting.flow import open_context

    ks = tmp_path / "key.json"
    ks.write_text(json.dumps(Account.encrypt(key, "correct horse", iterations=2)))
    ms = mint_settings.minting.model_copy(update={"keystore": ks})
    s2 = mint_settings.model_copy(update={"minting": ms})
    mc = open_context(s2, catalogue, w3=w3, environ={"GALLERY_MINT_KEYSTORE_PASSWORD": "correct horse"})
    assert mc.chain.signer.address == Account.from_key(key).address
    with pytest.raises(BadInput, match="wrong password") as e:
        open_context(s2, catalogue, w3=w3, environ={"GALLERY_MINT_KEYSTORE_PASSWORD": "nope"})
    assert "nope" not in str(e.value)
    with pytest.raises(BadInput, match="GALLERY_MINT_KEYSTORE_PASSWORD"):
        open_context(s2, catalogue, w3=w3, environ={"GALLERY_MINT_KEY": key})


def test_settings_reject_keys_and_bad_values():
    from pydantic import ValidationError

    from minting.settings import MintingSettings

    with pytest.raises(ValidationError, match="NAME of an environment variable"):
        MintingSettings(key_env="0x" + "ab" * 32)
    with pytest.raises(ValidationError, match="private key"):
        MintingSettings(rpc_url="https://node.example/" + "ab" * 32)
    with pytest.raises(ValidationError, match="not an Ethereum address"):
        MintingSettings(recipient="0x123")
    with pytest.raises(ValidationError, match="above max_fee_gwei"):
        MintingSettings(max_fee_gwei=1, priority_fee_gwei=2)


def test_unreachable_rpc_url_is_named_without_its_api_key(settings):
    from minting.chain import connect

    ms = settings.minting.model_copy(update={"rpc_url": "http://127.0.0.1:9/v3/secretprojectkey"})
    with pytest.raises(GalleryError, match=r"http://127.0.0.1:9/…") as e:
        connect(ms)
    assert "secretprojectkey" not in str(e.value)


def test_sets_are_minted_in_planned_order(mc, catalogue, monkeypatch):
    """A planned set that never got minted (a run stopped before sending) holds its ids: the next set waits."""
    flow.deploy(mc)
    a = make_set(catalogue, add_artworks(catalogue, 2), title="A")
    b = make_set(catalogue, add_artworks(catalogue, 2, start=10), title="B")
    monkeypatch.setattr(flow, "_check_balance", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        flow.mint_set(mc, a)  # planned (ids 1-2), nothing sent
    monkeypatch.undo()
    with pytest.raises(BadInput, match=rf"set\(s\) \[{a}\] hold token ids 1..2"):
        flow.mint_set(mc, b)
    assert flow.mint_set(mc, a)["minted"] == 2
    assert flow.mint_set(mc, b)["minted"] == 2
    assert flow.verify(mc, a)["ok"] and flow.verify(mc, b)["ok"]
