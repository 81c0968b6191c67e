"""`gallery catalogue …`: upgrade, ls, show, stats, verify, gc."""

from __future__ import annotations

import json
from typing import Any

import typer

from gallery.state import state

catalogue_app = typer.Typer(no_args_is_help=True, help="The catalogue: list, inspect, verify and clean.")


def register(app: typer.Typer, **_: Any) -> None:
    app.add_typer(catalogue_app, name="catalogue")


def artwork_dict(a: Any, full: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {"id": a.id, "kind": a.kind, "title": a.title, "created": a.created.isoformat(),
                         "status": a.status, "rating": a.rating, "tags": sorted(t.name for t in a.tags),
                         "media": [{"role": m.role, "sha256": m.sha256, "mime": m.mime, "size": m.size,
                                    **({"width": m.width, "height": m.height} if m.width else {}),
                                    **({"duration": m.duration} if m.duration else {})} for m in a.media]}
    if full:
        d["recipe"] = a.recipe
        d["status_reason"] = a.status_reason
        d["model_id"] = a.model_id
        d["run_id"] = a.run_id
        d["duration"] = a.duration
    return d


@catalogue_app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Apply the catalogue's database migrations (also done automatically on start)."""
    from catalogue import Catalogue

    s = state(ctx).settings
    c = Catalogue(s.catalogue_url, s.media_root, busy_timeout_ms=s.catalogue.busy_timeout_ms, auto_upgrade=False)
    before, after = c.upgrade()
    typer.echo(f"catalogue at revision {after}" + ("" if before == after else f" (was {before})"))


@catalogue_app.command("ls")
def ls(ctx: typer.Context, kind: str | None = typer.Option(None, "--kind", help="only this kind"),
       status: str = typer.Option("ok", help="ok | hidden | quarantined | all"),
       limit: int = typer.Option(50, min=1, max=100_000),
       as_json: bool = typer.Option(False, "--json")) -> None:
    """List artworks, newest first."""
    cat = state(ctx).catalogue
    rows = cat.page(kind=kind, status=None if status == "all" else status, limit=limit)
    if as_json:
        typer.echo(json.dumps([artwork_dict(a) for a in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table("id", "kind", "title", "created", "status", "media")
    for a in rows:
        t.add_row(str(a.id), a.kind, a.title, a.created.strftime("%Y-%m-%d %H:%M"), a.status,
                  ", ".join(m.role for m in a.media))
    Console().print(t)


@catalogue_app.command("show")
def show(ctx: typer.Context, artwork_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show one artwork with its recipe and media."""
    from gallery.errors import BadInput

    cat = state(ctx).catalogue
    a = cat.get(artwork_id)
    if a is None:
        raise BadInput(f"no artwork with id {artwork_id}")
    d = artwork_dict(a, full=True)
    if as_json:
        typer.echo(json.dumps(d, indent=2, default=str))
        return
    typer.echo(f"#{a.id} {a.kind} {a.title!r} ({a.status}) created {a.created:%Y-%m-%d %H:%M:%S}")
    for m in a.media:
        typer.echo(f"  {m.role:<12} {m.mime:<16} {m.size:>10} B  {cat.media_path(m)}")
    typer.echo("  recipe: " + json.dumps(a.recipe, indent=2, default=str).replace("\n", "\n  "))


@catalogue_app.command("stats")
def stats(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Counts by kind and status, media bytes, blobs on disk."""
    st = state(ctx).catalogue.stats()
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    for k, v in st.items():
        typer.echo(f"{k:>12}: {v}")


@catalogue_app.command("verify")
def verify(ctx: typer.Context, repair: bool = typer.Option(False, help="quarantine corrupt blobs, mark artworks"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Re-hash every blob; report missing and corrupt ones (exit 1 if any)."""
    rep = state(ctx).catalogue.verify(repair=repair)
    if as_json:
        typer.echo(json.dumps({"checked": rep.checked, "missing": rep.missing, "corrupt": rep.corrupt,
                               "repaired": rep.repaired, "quarantined": rep.quarantined}))
    else:
        typer.echo(f"checked {rep.checked} blobs: {len(rep.missing)} missing, {len(rep.corrupt)} corrupt"
                   + (f" ({rep.quarantined} media already quarantined)" if rep.quarantined else ""))
        for mid, sha in rep.missing:
            typer.echo(f"  missing  media {mid}  {sha}")
        for mid, sha in rep.corrupt:
            typer.echo(f"  corrupt  media {mid}  {sha}")
        if rep.repaired:
            typer.echo(f"repaired (quarantined/marked): {len(rep.repaired)} blobs")
    if not rep.ok:
        raise typer.Exit(1)


@catalogue_app.command("gc")
def gc(ctx: typer.Context, grace: float | None = typer.Option(None, help="seconds; default from config"),
       dry_run: bool = typer.Option(False, "--dry-run")) -> None:
    """Remove blobs that no artwork refers to, stale temp files and stale job scratch folders."""
    removed = state(ctx).catalogue.gc(grace_seconds=grace, dry_run=dry_run)
    dirs = getattr(removed, "workdirs", [])
    typer.echo(f"{'would remove' if dry_run else 'removed'} {len(removed)} unreferenced blobs"
               f" and {len(dirs)} stale scratch folders")
