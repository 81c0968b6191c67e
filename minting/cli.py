"""`gallery mint …`: deploy, set SET_ID [--dry-run], status [SET_ID], verify SET_ID, freeze, chain status|reset."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from gallery.errors import GalleryError
from gallery.state import state

mint_app = typer.Typer(no_args_is_help=True, help="Publish frozen sets as ERC-721 tokens (ERC721A + EIP-2981).")
chain_app = typer.Typer(no_args_is_help=True, help="The local dev chain kept under data_dir (minting.rpc_url empty).")
mint_app.add_typer(chain_app, name="chain")


def register(app: typer.Typer, **_: Any) -> None:
    app.add_typer(mint_app, name="mint")


@contextmanager
def _context(ctx: typer.Context, need_key: bool = True) -> Iterator[Any]:
    """The mint context for one command; what the user must know (the dev account in use) goes to stderr."""
    from minting.flow import open_context

    st = state(ctx)
    mc = open_context(st.settings, st.catalogue, environ=os.environ, need_key=need_key)
    try:
        for note in mc.notes:
            typer.echo(f"note: {note}", err=True)
        yield mc
    finally:
        mc.close()


def _emit(data: Any, as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        for line in lines:
            typer.echo(line)


@mint_app.command("deploy")
def deploy_cmd(ctx: typer.Context, new: bool = typer.Option(False, "--new", help="deploy another contract even if "
                                                                                  "this account has one here"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Deploy the set contract (name, symbol, royalty and stride from the `minting` section)."""
    from minting import pinning
    from minting.flow import deploy

    with _context(ctx) as mc:
        upload = None
        if pinning.configured(mc.ms):
            def upload(car, root):
                return pinning.upload_and_pin(mc.ms, car, root, "contract-metadata", os.environ)
        res = deploy(mc, new=new, upload=upload)
    word = "deployed" if res["deployed"] else "already deployed"
    extra = f" (gas {res['gas']:,}, tx {res['tx']})" if res["deployed"] else ""
    _emit(res, as_json, [f"contract {res['contract']} {word}{extra}"])


@mint_app.command("set")
def set_cmd(ctx: typer.Context, set_id: int = typer.Argument(..., help="the collection (set) id"),
            dry_run: bool = typer.Option(False, "--dry-run", help="plan, write the CAR and estimate; send nothing"),
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Mint a frozen set: metadata + CIDs + CAR, base URI, batched mints. Safe to rerun after a crash."""
    from minting import pinning
    from minting.flow import check_set, mint_set

    check_set(state(ctx).catalogue, set_id)  # an unknown or unmintable set is refused before any key or chain
    with _context(ctx, need_key=not dry_run) as mc:
        upload = None
        if pinning.configured(mc.ms) and not dry_run:
            def upload(plan):
                return pinning.upload_and_pin(mc.ms, plan.car, plan.root, f"set-{plan.collection_id}", os.environ)
        res = mint_set(mc, set_id, dry_run=dry_run, upload=upload)
    if dry_run or "minted" not in res:
        what = f"{res['to_mint']} to mint in {res['batches']} transaction(s)"
    else:
        what = f"minted {res['minted']} ({res['to_mint']} now, in {res['batches']} transaction(s))"
    lines = [(f"{'dry run: ' if dry_run else ''}set {set_id}: {res['tokens']} tokens on {res['contract']}, {what}; "
             f"estimate {res['estimated_gas']:,} gas (<= {res['estimated_cost_eth']:.6f} ETH)"),
             f"CAR: {res['car']} ({res['car_bytes']:,} bytes), root {res['root']}"]
    if res.get("note"):
        lines.append(f"note: {res['note']}")
    if res.get("reconciled"):
        lines.append(f"reconciled {res['reconciled']} transaction(s) left by an earlier run")
    lines += res.get("token_uris", [])
    _emit(res, as_json, lines)


@mint_app.command("status")
def status_cmd(ctx: typer.Context, set_id: int | None = typer.Argument(None, help="only this set"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """What the catalogue knows of minted sets (tokens by state, unsettled transactions). No chain needed."""
    from minting.flow import check_set, status

    if set_id is not None:
        check_set(state(ctx).catalogue, set_id, mintable=False)
    rows = status(state(ctx).catalogue, set_id)
    lines = [f"set {r['set']}: tokens {r['first']}..{r['last']} on {r['contract']} (chain {r['chain_id']}): "
             f"{r['states']}, {r['unsettled_txs']} unsettled tx" for r in rows] or ["no sets minted"]
    _emit(rows, as_json, lines)


@mint_app.command("verify")
def verify_cmd(ctx: typer.Context, set_id: int = typer.Argument(..., help="the collection (set) id"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Read the chain back: owner, token URI and metadata CID of every token vs the catalogue (exit 1 if wrong)."""
    from minting.flow import check_set, verify

    check_set(state(ctx).catalogue, set_id)
    with _context(ctx, need_key=False) as mc:
        res = verify(mc, set_id)
    lines = [f"set {set_id}: {res['tokens']} tokens on {res['contract']}, base URI {res['base_uri']}: "
             + ("ok" if res["ok"] else f"{len(res['problems'])} problem(s)")] + [f"  {p}" for p in res["problems"]]
    lines += [f"  note: {n}" for n in res.get("notes", [])]
    _emit(res, as_json, lines)
    if not res["ok"]:
        raise GalleryError(f"set {set_id} does not match the chain")


@mint_app.command("freeze")
def freeze_cmd(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", help="confirm: this cannot be undone")) -> None:
    """Freeze the contract's base URI for good (no later set can be added to this contract)."""
    from minting.flow import freeze

    if not yes:
        raise typer.BadParameter("freezing is for good; add --yes")
    with _context(ctx) as mc:
        res = freeze(mc)
    typer.echo(f"base URI of {res['contract']} frozen: {res['base_uri']}")


@chain_app.command("status")
def chain_status_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Where the local dev chain is kept, its height, dev account and who holds it now (reads only)."""
    from minting import devchain

    st = state(ctx)
    d = devchain.state_dir(st.settings)
    who = devchain.holder(d)
    if who is not None:
        raise GalleryError(f"the local dev chain {d} is in use by pid {who}; try again when that command ends")
    if not (d / devchain.STATE).exists():
        res = {"path": str(d / devchain.STATE), "exists": False,
               "rpc_url": st.settings.minting.rpc_url or "(empty: the local dev chain)"}
        _emit(res, as_json, [(f"no local dev chain yet at {res['path']} (the next `gallery mint` command "
                             "with minting.rpc_url empty starts one)")])
        return
    with devchain.DevChain(d) as dc:
        res = dc.facts()
    res["rpc_url"] = st.settings.minting.rpc_url or "(empty: the local dev chain)"
    _emit(res, as_json, [(f"local dev chain {res['path']} ({res['bytes']:,} bytes): chain id {res['chain_id']}, "
                         f"block {res['block']}, genesis {res['genesis'][:18]}…"),
                         f"dev account {res['dev_account']}: {res['dev_balance_eth']:,.6f} ETH",
                         f"minting.rpc_url: {res['rpc_url']}"])


@chain_app.command("reset")
def chain_reset_cmd(ctx: typer.Context, yes: bool = typer.Option(False, "--yes", help="confirm")) -> None:
    """Start the local dev chain afresh: its state file is kept aside (renamed) and the catalogue's mint records
    of the local chain id are deleted."""
    from minting.flow import forget_local_chain

    if not yes:
        raise typer.BadParameter("this forgets every mint record of the local dev chain; add --yes")
    st = state(ctx)
    res = forget_local_chain(st.settings, st.catalogue)
    kept = f"state kept as {res['kept']}" if res["kept"] else "no state file"
    typer.echo(f"local dev chain reset: {kept}; deleted {res['mint_rows']} mint and {res['mint_tx_rows']} "
               "mint_tx rows of its chain id")
