"""The mint flow: deploy, mint a frozen set, status, verify (chain read back vs catalogue).

A set is minted into the gallery's contract as consecutive token ids. Its plan (token ids, the
metadata document and CID of every token) is written to the `mint` table first; the base URI is
`ipfs://<root>/` where <root> is the UnixFS directory of every token's metadata (named by token
id) and a `media/` folder with every file they point at; that directory is also written as one
CAR archive (the hand-off to any pinning service). Minting sends `mintBatch(to, firstId, n)`,
which reverts unless `firstId` is the contract's next token id: a replayed or duplicated
transaction can never mint a token twice, and a rerun continues from the chain's own counter.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from catalogue.models import Artwork, Collection, Mint, MintTx, Model
from gallery.errors import BadInput, GalleryError
from minting import cid as cidlib
from minting.chain import GWEI, Chain, NoKey, Signer, connect, contract_interface, key_configured, load_signer
from minting.metadata import canonical_json, refuse_secrets, token_files

log = logging.getLogger("gallery.minting")


@dataclass
class MintContext:
    settings: Any
    catalogue: Any
    chain: Chain
    devchain: Any = None  # minting.devchain.DevChain when minting.rpc_url is empty
    notes: list[str] = field(default_factory=list)  # what the user must be told (the dev account, funding)

    @property
    def ms(self):
        return self.settings.minting

    def close(self) -> None:
        """Let go of the local dev chain (its state is already on disk); a no-op for an RPC endpoint."""
        if self.devchain is not None:
            self.devchain.close()
            self.devchain = None


def open_context(settings: Any, catalogue: Any, *, w3: Any = None,
                 environ: Mapping[str, str] | None = None, need_key: bool = True) -> MintContext:
    """Check config, key and chain id before anything is signed.

    minting.rpc_url empty (and no `w3`): the local dev chain kept under data_dir; it signs with the key
    from the environment or keystore when one is given (funded from the dev account if it has nothing),
    else with the chain's own funded dev account, and says so. Any other chain needs the key, except
    with need_key=False (dry runs, verify) when none is given: then nothing can be signed."""
    ms = settings.minting
    env = os.environ if environ is None else environ
    dev = None
    if w3 is None and not ms.rpc_url:
        from minting import devchain

        devchain.check_local(settings)
        dev = devchain.DevChain(devchain.state_dir(settings)).open()
        w3 = dev.w3
    try:
        notes: list[str] = []
        if dev is not None and not key_configured(ms, env):
            from eth_account import Account

            signer: Signer | NoKey = Signer(Account.from_key(dev.dev_key))
            notes.append(f"local dev chain {dev.path}: the minting account is its built-in funded dev account "
                         f"{signer.address} (for this local chain only; with minting.rpc_url set, the key "
                         f"comes from ${ms.key_env} or minting.keystore)")
        elif need_key:
            signer = load_signer(ms, env)
        else:  # reads only: a key given is used (the plan is then that account's), else none is needed
            try:
                signer = load_signer(ms, env) if key_configured(ms, env) else NoKey()
            except BadInput as e:
                signer = NoKey()
                notes.append(f"the minting key was not loaded ({e}); going on without it (this command only reads)")
        chain = Chain(w3 if w3 is not None else connect(ms), ms, signer, catalogue)
        mc = MintContext(settings, catalogue, chain, dev, notes)
        if dev is not None:
            _check_local_journal(mc)
            if not need_key:  # reads only: a new chain is not written (nor is anyone funded)
                return mc
            if dev.fresh:
                notes.append(f"local dev chain: started a new chain in {dev.path}")
            dev.arm()
            if signer.address != dev.dev_address and chain.balance() < 10**18:
                from minting.chain import fund_from_dev_account
                from minting.devchain import FUND_WEI

                fund_from_dev_account(w3, signer.address, FUND_WEI)
                notes.append(f"local dev chain: gave {signer.address} {FUND_WEI / 10**18:.0f} ETH from its dev "
                             "account (this local chain only)")
    except BaseException:
        if dev is not None:
            dev.close()
        raise
    return mc


def _check_local_journal(mc: MintContext) -> None:
    """The local chain must hold every transaction the catalogue saw confirmed on it (else it was replaced)."""
    chain = mc.chain
    with mc.catalogue.read() as s:
        top = s.scalar(select(func.max(MintTx.nonce)).where(
            MintTx.chain_id == chain.chain_id, MintTx.sender == chain.signer.address, MintTx.state == "confirmed"))
    if top is None:
        return
    have = int(chain.w3.eth.get_transaction_count(chain.signer.address))
    if have <= top:
        why = "a new, empty chain: its state file is missing" if mc.devchain.fresh else "an older or other chain"
        raise GalleryError(f"the catalogue saw transaction nonce {top} of {chain.signer.address} confirmed on the "
                           f"local dev chain, but {mc.devchain.path} holds only {have} from that account ({why}); "
                           "restore the state file, or run `gallery mint chain reset --yes` to forget the local "
                           "chain's mint records")


def forget_local_chain(settings: Any, catalogue: Any) -> dict[str, Any]:
    """`gallery mint chain reset`: set the local chain's state file aside (kept, renamed) and delete the
    catalogue's mint records of its chain id, so that the next command starts a new local chain."""
    from datetime import UTC, datetime

    from minting import devchain

    dc = devchain.DevChain(devchain.state_dir(settings))
    dc.dir.mkdir(parents=True, exist_ok=True)
    dc.hold()
    try:
        kept = None
        if dc.path.exists():
            kept = dc.path.with_name(f"{devchain.STATE}.reset-{datetime.now(UTC):%Y%m%dT%H%M%S%f}")
            journal = dc.path.with_name(devchain.STATE + "-journal")
            if journal.exists():  # a hot journal belongs with its database
                os.replace(journal, kept.with_name(kept.name + "-journal"))
            os.replace(dc.path, kept)
        with catalogue.write() as s:
            mints = s.execute(delete(Mint).where(Mint.chain_id == devchain.CHAIN_ID)).rowcount
            txs = s.execute(delete(MintTx).where(MintTx.chain_id == devchain.CHAIN_ID)).rowcount
    finally:
        dc.close()
    return {"kept": str(kept) if kept else None, "mint_rows": mints, "mint_tx_rows": txs}


def check_set(catalogue: Any, collection_id: int, *, mintable: bool = True) -> None:
    """Refuse an unknown set id (and, for minting, a set that is not frozen or is empty) before any key or chain."""
    with catalogue.read() as s:
        if mintable:
            _collection(s, collection_id)
        elif s.get(Collection, collection_id) is None:
            raise BadInput(f"no collection (set) with id {collection_id}")


# -- deploy -------------------------------------------------------------------------------------

def contract_metadata(ms: Any, owner: str) -> bytes:
    doc = {"name": ms.name, "description": ms.description, "seller_fee_basis_points": ms.royalty_bps,
           "fee_recipient": ms.royalty_receiver or owner}
    if ms.external_url and "{" not in ms.external_url:
        doc["external_link"] = ms.external_url
    refuse_secrets(doc, "the contract's metadata")
    return canonical_json(doc)


def deployed_address(mc: MintContext) -> str | None:
    """minting.contract, or the latest contract this account deployed on this chain (journal)."""
    if mc.ms.contract:
        return mc.ms.contract
    q = select(MintTx).where(MintTx.chain_id == mc.chain.chain_id, MintTx.purpose == "deploy",
                             MintTx.state == "confirmed")
    if mc.chain.signer.address is not None:  # without a key: the latest deployed by anyone (journalled here)
        q = q.where(MintTx.sender == mc.chain.signer.address)
    with mc.catalogue.read() as s:
        row = s.scalars(q.order_by(MintTx.id.desc())).first()
        return row.receipt.get("contractAddress") if row else None


def contract(mc: MintContext, address: str | None = None) -> Any:
    address = address or deployed_address(mc)
    if not address:
        raise BadInput("no contract: run `gallery mint deploy` first (or set minting.contract)")
    w3 = mc.chain.w3
    if not w3.eth.get_code(address):
        hint = ("; minting.rpc_url 'eth-tester' is a throwaway chain that ended with the command that deployed "
                "(leave rpc_url empty for the local dev chain kept under data_dir)") if mc.ms.rpc_url == "eth-tester" else ""
        raise BadInput(f"no contract code at {address} on chain {mc.chain.chain_id}{hint}")
    abi, _ = contract_interface()
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=abi)


def deploy(mc: MintContext, *, new: bool = False, upload: Any = None) -> dict[str, Any]:
    """Deploy the set contract (once per chain and account unless `new`)."""
    mc.chain.reconcile()
    existing = deployed_address(mc)
    if existing and not new and mc.chain.w3.eth.get_code(existing):
        return {"contract": existing, "deployed": False}
    ms = mc.ms
    owner = mc.chain.signer.address
    doc = contract_metadata(ms, owner)
    curi = f"ipfs://{cidlib.file_cid(doc)}"
    out = mc.settings.path(ms.car_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "contract.json").write_bytes(doc)
    node = cidlib.file_node(doc)
    cidlib.write_car(out / "contract.car", [node.cid], node.blocks)
    pinned = upload(out / "contract.car", str(node.cid)) if upload is not None else None
    abi, bytecode = contract_interface()
    w3 = mc.chain.w3
    ctor = w3.eth.contract(abi=abi, bytecode=bytecode).constructor(
        ms.name, ms.symbol, "", curi, w3.to_checksum_address(ms.royalty_receiver or owner), ms.royalty_bps,
        ms.ownership_stride, owner)
    tx = {"data": ctor.data_in_transaction}
    _check_balance(mc, estimate(mc, tx), "deploy")
    rec = mc.chain.send("deploy", tx, payload={"contract_uri": curi})
    if rec["status"] != 1:
        raise GalleryError(f"the deploy transaction {rec['tx_hash']} reverted")
    return {"contract": rec["contractAddress"], "deployed": True, "contract_uri": curi,
            "gas": rec["gasUsed"], "tx": rec["tx_hash"], "pinned": pinned}


def estimate(mc: MintContext, tx: dict[str, Any]) -> int:
    """Gas of a transaction from the minting account (estimated at gas price 0 when the balance is short,
    so that the balance check can show the estimate)."""
    w3, me = mc.chain.w3, mc.chain.signer.address
    try:
        return int(w3.eth.estimate_gas({"from": me, **tx}))
    except Exception as e:  # noqa: BLE001 - nodes differ in error types: read by their message below
        msg = str(e).lower()
        if "afford" not in msg and "insufficient funds" not in msg:
            raise GalleryError(f"the transaction would fail: {type(e).__name__}: {str(e)[:200]}") from None
    return int(w3.eth.estimate_gas({"from": me, **tx, "gasPrice": 0}))


def _check_balance(mc: MintContext, gas: int, what: str) -> int:
    max_fee, _ = mc.chain.fees()
    cost = gas * max_fee
    bal = mc.chain.balance()
    if bal < cost:
        raise BadInput(f"balance of {mc.chain.signer.address} is {bal / 1e18:.6f} ETH, below the estimated cost "
                       f"of {what}: {gas:,} gas at up to {max_fee / GWEI:.3f} gwei = {cost / 1e18:.6f} ETH")
    return cost


# -- planning a set -----------------------------------------------------------------------------

@dataclass
class SetPlan:
    collection_id: int
    contract: str
    recipient: str
    tokens: list[dict[str, Any]]  # token_id, artwork_id, metadata_cid, position, state
    root: str  # CID of the directory behind the base URI
    base_uri: str
    car: Path
    car_bytes: int
    all_tokens: int
    notes: list[str] = field(default_factory=list)


def _collection(s: Any, collection_id: int) -> Collection:
    coll = s.get(Collection, collection_id)
    if coll is None:
        raise BadInput(f"no collection (set) with id {collection_id}")
    if coll.frozen_at is None:
        raise BadInput(f"set {collection_id} ({coll.title!r}) is not frozen; freeze it before minting")
    if not coll.items:
        raise BadInput(f"set {collection_id} ({coll.title!r}) is empty")
    return coll


def plan_set(mc: MintContext, collection_id: int, k: Any, *, persist: bool = True) -> SetPlan:
    """Plan (or load the plan of) a set: token ids, metadata CIDs, the directory and its CAR.

    With persist=False (a dry run) a new plan is not written to the catalogue: no token id is reserved."""
    ms, chain_id, address = mc.ms, mc.chain.chain_id, k.address
    recipient = mc.chain.w3.to_checksum_address(ms.recipient or mc.chain.signer.address)
    with mc.catalogue.write() as s:
        coll = _collection(s, collection_id)
        rows = list(s.scalars(select(Mint).where(Mint.chain_id == chain_id, Mint.contract == address,
                                                 Mint.collection_id == collection_id).order_by(Mint.token_id)))
        fresh: list[Mint] = []
        if not rows:
            taken = s.scalars(select(Mint.token_id).where(Mint.chain_id == chain_id, Mint.contract == address)
                              .order_by(Mint.token_id.desc())).first()
            start = max(int(k.functions.nextTokenId().call()), (taken or 0) + 1)
            for i, item in enumerate(coll.items):
                art = s.get(Artwork, item.artwork_id)
                if art.status != "ok":
                    raise BadInput(f"set {collection_id}: artwork {art.id} is {art.status} ({art.status_reason})")
                tf = token_files(art, mc.catalogue.media_path, collection_title=coll.title,
                                 collection_description=coll.description, position=i + 1, token_id=start + i,
                                 external_url=ms.external_url, default_description=ms.description,
                                 model_name=_model_name(s, art))
                fresh.append(Mint(collection_id=collection_id, collection_item_id=item.id, artwork_id=art.id,
                                 chain_id=chain_id, contract=address, token_id=start + i,
                                 metadata_cid=str(cidlib.file_cid(tf.document)), state="planned",
                                 extra={"metadata": tf.document.decode(), "to": recipient,
                                        "media": tf.media_sha256}))
            rows = fresh
            if persist:
                s.add_all(fresh)
                s.flush()
        everything = list(s.scalars(select(Mint).where(Mint.chain_id == chain_id, Mint.contract == address)
                                    .order_by(Mint.token_id)))
        if fresh and not persist:
            everything += fresh
        tree: dict[str, Any] = {"media": {}}
        for m in everything:
            doc = m.extra["metadata"].encode()
            if str(cidlib.file_cid(doc)) != m.metadata_cid:
                raise GalleryError(f"token {m.token_id}: stored metadata does not match its CID {m.metadata_cid}")
            tree[str(m.token_id)] = doc
            for name, sha in m.extra.get("media", {}).items():
                p = mc.catalogue.store.path(sha)
                if not p.is_file():
                    raise BadInput(f"token {m.token_id}: media blob {sha[:12]}… ({name}) is missing from the store")
                tree["media"][name] = p
        node = cidlib.directory_node(tree)
        base_uri = f"ipfs://{node.cid}/"
        tokens = [{"token_id": m.token_id, "artwork_id": m.artwork_id, "metadata_cid": m.metadata_cid,
                   "state": m.state, "to": m.extra.get("to", recipient)} for m in rows]
    out = mc.settings.path(ms.car_dir) / f"{chain_id}-{address}"
    out.mkdir(parents=True, exist_ok=True)
    car = out / f"{node.cid}.car"
    size = car.stat().st_size if car.exists() else cidlib.write_car(car, [node.cid], node.blocks)
    (out / f"set-{collection_id}.json").write_text(json.dumps(
        {"collection": collection_id, "root": str(node.cid), "base_uri": base_uri, "car": car.name,
         "tokens": tokens}, indent=1))
    return SetPlan(collection_id, address, tokens[0]["to"], tokens, str(node.cid), base_uri, car, size,
                   len(everything))


def _model_name(s: Any, art: Artwork) -> str | None:
    if art.model_id is None:
        return None
    m = s.get(Model, art.model_id)
    return f"{m.family}/{m.name}" if m is not None else None


def _sync(mc: MintContext, k: Any, plan: SetPlan) -> int:
    """Mark planned tokens that the chain already has as confirmed; returns the chain's next id."""
    nxt = int(k.functions.nextTokenId().call())
    with mc.catalogue.write() as s:
        txs = list(s.scalars(select(MintTx).where(MintTx.chain_id == mc.chain.chain_id, MintTx.purpose == "mint",
                                                  MintTx.contract == plan.contract,
                                                  MintTx.state == "confirmed")))
        for m in s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == plan.contract,
                                              Mint.collection_id == plan.collection_id, Mint.state != "confirmed")):
            if m.token_id < nxt:
                m.state = "confirmed"
                for t in txs:
                    first, n = t.payload.get("first", 0), t.payload.get("quantity", 0)
                    if first <= m.token_id < first + n:
                        m.tx_hash = t.tx_hash
    for t in plan.tokens:
        if t["token_id"] < nxt:
            t["state"] = "confirmed"
    return nxt


def _record_uris(mc: MintContext, k: Any) -> None:
    """The chain's base URI now covers every planned token of the contract: record their token URIs."""
    base = k.functions.baseURI().call()
    with mc.catalogue.write() as s:
        for m in s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address)):
            m.token_uri = f"{base}{m.token_id}"


def _mark(mc: MintContext, plan: SetPlan, first: int, n: int, state: str, tx_hash: str) -> None:
    """Planned tokens first..first+n-1 are now `sent` (journalled) or `failed` (reverted)."""
    with mc.catalogue.write() as s:
        for m in s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == plan.contract,
                                              Mint.token_id >= first, Mint.token_id < first + n,
                                              Mint.state != "confirmed")):
            m.state, m.tx_hash = state, tx_hash


def _batches(plan: SetPlan, size: int) -> list[tuple[int, int]]:
    todo = [t["token_id"] for t in plan.tokens if t["state"] != "confirmed"]
    return [(todo[i], len(todo[i:i + size])) for i in range(0, len(todo), size)]


def mint_set(mc: MintContext, collection_id: int, *, dry_run: bool = False, upload: Any = None,
             on_batch: Any = None) -> dict[str, Any]:
    """Mint a frozen set (or, with dry_run, show the plan and cost). Safe to rerun after a crash."""
    if not dry_run and isinstance(mc.chain.signer, NoKey):
        raise BadInput(f"no minting key: set the environment variable {mc.ms.key_env} or minting.keystore "
                       "(only a dry run goes without one)")
    settled = [] if dry_run else mc.chain.reconcile()
    k = contract(mc)
    if isinstance(mc.chain.signer, NoKey):  # a dry run without a key: plan and estimate as the contract's owner
        mc.chain.signer.address = k.functions.owner().call()
    elif k.functions.owner().call() != mc.chain.signer.address:
        raise BadInput(f"the minting account {mc.chain.signer.address} does not own contract {k.address}")
    if k.functions.baseURIFrozen().call():
        with mc.catalogue.read() as s:
            states = set(s.scalars(select(Mint.state).where(
                Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address, Mint.collection_id == collection_id)))
        if states != {"confirmed"}:
            raise BadInput(f"contract {k.address} has its base URI frozen for good; mint set {collection_id} into a "
                           "new contract (`gallery mint deploy --new`)")
    plan = plan_set(mc, collection_id, k, persist=not dry_run)
    _sync(mc, k, plan)
    batches = _batches(plan, mc.ms.batch_size)
    need_uri = k.functions.baseURI().call() != plan.base_uri
    if (batches or need_uri) and k.functions.baseURIFrozen().call():
        raise BadInput(f"contract {k.address} has its base URI frozen for good; mint this set into a new "
                       "contract (`gallery mint deploy --new`)")
    gas = estimate(mc, {"to": k.address, "data": k.functions.setBaseURI(plan.base_uri)._encode_transaction_data()}
                   ) if need_uri else 0
    nxt = int(k.functions.nextTokenId().call())
    for _first, n in batches:
        gas += estimate(mc, {"to": k.address, "data": k.functions.mintBatch(
            plan.recipient, nxt, n)._encode_transaction_data()})
    report = {"set": collection_id, "contract": k.address, "root": plan.root, "base_uri": plan.base_uri,
              "car": str(plan.car), "car_bytes": plan.car_bytes, "tokens": len(plan.tokens),
              "to_mint": sum(n for _, n in batches), "batches": len(batches), "estimated_gas": gas,
              "reconciled": len(settled)}
    if isinstance(mc.chain.signer, NoKey):
        report["note"] = f"no key given: planned and estimated as the contract's owner {mc.chain.signer.address}"
    if dry_run or (not batches and not need_uri):
        if not dry_run:
            report["minted"] = sum(1 for t in plan.tokens if t["state"] == "confirmed")
        max_fee, _ = mc.chain.fees()
        report["estimated_cost_eth"] = gas * max_fee / 1e18
        report["token_uris"] = [f"{plan.base_uri}{t['token_id']}" for t in plan.tokens]
        return report
    report["estimated_cost_eth"] = _check_balance(mc, gas, f"set {collection_id}") / 1e18
    if upload is not None:
        report["pinned"] = upload(plan)
    if need_uri:
        rec = mc.chain.send("set-base-uri", {"to": k.address, "data": k.functions.setBaseURI(
            plan.base_uri)._encode_transaction_data()}, collection_id=collection_id, contract=k.address,
            payload={"base_uri": plan.base_uri})
        if rec["status"] != 1:
            raise GalleryError(f"setBaseURI {rec['tx_hash']} reverted")
    _record_uris(mc, k)
    for first, n in batches:
        nxt = int(k.functions.nextTokenId().call())
        if nxt < first:
            with mc.catalogue.read() as s:
                before = sorted(set(s.scalars(select(Mint.collection_id).where(
                    Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address, Mint.token_id >= nxt,
                    Mint.token_id < first, Mint.state != "confirmed"))))
            if before:
                raise BadInput(f"set(s) {before} hold token ids {nxt}..{first - 1} on {k.address} but are not "
                               f"minted yet; finish them first (`gallery mint set {before[0]}`)")
        if nxt != first:
            raise GalleryError(f"the contract's next token id is {nxt}, but set {collection_id} planned {first}: "
                               "someone else minted into this contract; nothing was sent")
        rec = mc.chain.send("mint", {"to": k.address, "data": k.functions.mintBatch(
            plan.recipient, first, n)._encode_transaction_data()}, collection_id=collection_id,
            contract=k.address, payload={"first": first, "quantity": n},
            on_journal=lambda h, first=first, n=n: _mark(mc, plan, first, n, "sent", h))
        if rec["status"] != 1:
            _mark(mc, plan, first, n, "failed", rec["tx_hash"])
            raise GalleryError(f"mint transaction {rec['tx_hash']} (tokens {first}..{first + n - 1}) reverted")
        _sync(mc, k, plan)
        if on_batch is not None:
            on_batch(first, n)
    _sync(mc, k, plan)
    report["token_uris"] = [f"{plan.base_uri}{t['token_id']}" for t in plan.tokens]
    report["minted"] = sum(1 for t in plan.tokens if t["state"] == "confirmed")
    return report


# -- status and verify --------------------------------------------------------------------------

def status(catalogue: Any, collection_id: int | None = None) -> list[dict[str, Any]]:
    """What the catalogue knows: per set and contract, tokens by state, and unsettled transactions."""
    with catalogue.read() as s:
        q = select(Mint)
        if collection_id is not None:
            q = q.where(Mint.collection_id == collection_id)
        groups: dict[tuple, dict[str, Any]] = {}
        for m in s.scalars(q.order_by(Mint.token_id)):
            g = groups.setdefault((m.collection_id, m.chain_id, m.contract), {
                "set": m.collection_id, "chain_id": m.chain_id, "contract": m.contract, "tokens": 0,
                "first": m.token_id, "last": m.token_id, "states": {}})
            g["tokens"] += 1
            g["last"] = m.token_id
            g["states"][m.state] = g["states"].get(m.state, 0) + 1
        pend = list(s.scalars(select(MintTx).where(MintTx.state.in_(("signed", "sent")))))
        for g in groups.values():
            g["unsettled_txs"] = sum(1 for t in pend if t.chain_id == g["chain_id"] and t.contract == g["contract"])
        return list(groups.values())


def verify(mc: MintContext, collection_id: int) -> dict[str, Any]:
    """Read the chain back: owner, token URI and metadata CID of every token vs the catalogue."""
    k = contract(mc)
    problems: list[str] = []
    with mc.catalogue.read() as s:
        coll = _collection(s, collection_id)
        rows = list(s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address,
                                                 Mint.collection_id == collection_id).order_by(Mint.token_id)))
        if not rows:
            raise BadInput(f"set {collection_id} has no mint plan on contract {k.address}; run `gallery mint set`")
        if {m.artwork_id for m in rows} != {i.artwork_id for i in coll.items}:
            problems.append("the planned tokens do not match the set's artworks")
        arts = {m.artwork_id: s.get(Artwork, m.artwork_id) for m in rows}
        positions = {i.artwork_id: n + 1 for n, i in enumerate(coll.items)}
        base = k.functions.baseURI().call()
        for m in rows:
            tf = token_files(arts[m.artwork_id], mc.catalogue.media_path, collection_title=coll.title,
                             collection_description=coll.description, position=positions[m.artwork_id],
                             token_id=m.token_id, external_url=mc.ms.external_url,
                             default_description=mc.ms.description, model_name=_model_name(s, arts[m.artwork_id]))
            want_cid = str(cidlib.file_cid(tf.document))
            if want_cid != m.metadata_cid:
                problems.append(f"token {m.token_id}: catalogue metadata CID {want_cid} != planned {m.metadata_cid}")
            try:
                owner = k.functions.ownerOf(m.token_id).call()
                uri = k.functions.tokenURI(m.token_id).call()
            except Exception:  # noqa: BLE001 - a token that does not exist reverts
                problems.append(f"token {m.token_id}: not minted")
                continue
            if owner != m.extra.get("to"):
                problems.append(f"token {m.token_id}: owner {owner} != {m.extra.get('to')}")
            if uri != m.token_uri or uri != f"{base}{m.token_id}":
                problems.append(f"token {m.token_id}: tokenURI {uri} != {m.token_uri}")
        notes: list[str] = []
        root = base.removeprefix("ipfs://").rstrip("/")
        car = mc.settings.path(mc.ms.car_dir) / f"{mc.chain.chain_id}-{k.address}" / f"{root}.car"
        if car.is_file():  # the hand-off: its root is the chain's base URI and it holds every metadata document
            roots, blocks = cidlib.read_car(car.read_bytes())
            if [str(r) for r in roots] != [root]:
                problems.append(f"{car.name}: its root is not the contract's base URI")
            have = {str(c) for c in blocks}
            missing = [m.token_id for m in rows if m.metadata_cid not in have]
            if missing:
                problems.append(f"{car.name} lacks the metadata of tokens {missing}")
        else:
            notes.append(f"no CAR for the base URI's root {root} under {car.parent}")
        total = int(k.functions.totalMinted().call())
        known = s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address,
                                             Mint.state == "confirmed")).all()
        if total != len(known):
            problems.append(f"the contract holds {total} tokens, the catalogue knows {len(known)} minted")
    return {"set": collection_id, "contract": k.address, "tokens": len(rows), "base_uri": base,
            "total_minted": total, "ok": not problems, "problems": problems, "notes": notes,
            "token_uris": [m.token_uri for m in rows]}


def freeze(mc: MintContext) -> dict[str, Any]:
    """Freeze the base URI for good (refused while a planned set is not fully minted)."""
    mc.chain.reconcile()
    k = contract(mc)
    base = k.functions.baseURI().call()
    if k.functions.baseURIFrozen().call():
        return {"contract": k.address, "base_uri": base, "frozen": True, "tx": None}
    with mc.catalogue.read() as s:
        open_ = s.scalars(select(Mint).where(Mint.chain_id == mc.chain.chain_id, Mint.contract == k.address,
                                             Mint.state != "confirmed")).first()
    if open_ is not None:
        raise BadInput(f"set {open_.collection_id} is planned on {k.address} but not fully minted; "
                       "finish it (`gallery mint set`) before freezing")
    rec = mc.chain.send("freeze", {"to": k.address, "data": k.functions.freezeBaseURI()._encode_transaction_data()},
                        contract=k.address, payload={"base_uri": base})
    if rec["status"] != 1:
        raise GalleryError(f"freezeBaseURI {rec['tx_hash']} reverted")
    return {"contract": k.address, "base_uri": base, "frozen": True, "tx": rec["tx_hash"]}
