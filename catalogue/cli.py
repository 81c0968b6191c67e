"""`gallery catalogue …`: upgrade, ls, show, stats, verify, gc."""

from __future__ import annotations

import json
from pathlib import Path
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
        from catalogue.editing import wall_text_of

        d["wall"] = wall_text_of(a)  # title, artist, year, medium, wall_text, title_by
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
    from gallery.results import artwork_files

    st = state(ctx)
    cat = st.catalogue
    a = cat.get(artwork_id)
    if a is None:
        raise BadInput(f"no artwork with id {artwork_id}")
    d = artwork_dict(a, full=True)
    files = artwork_files(st, [a.id])[0][1]  # named with their extensions: <data_dir>/files/<id>/<role>.<ext>
    for md, (_, path) in zip(d["media"], files, strict=True):
        md["path"] = str(path)
    if as_json:
        typer.echo(json.dumps(d, indent=2, default=str))
        return
    typer.echo(f"#{a.id} {a.kind} {a.title!r} ({a.status}) created {a.created:%Y-%m-%d %H:%M:%S}")
    from catalogue.editing import credit_line, curator_titled

    if a.status != "ok" and a.status_reason:
        typer.echo(f"  {a.status}: {a.status_reason}")
    if credit_line(a) or curator_titled(a):
        typer.echo(f"  label: {a.title}" + (f" | {credit_line(a)}" if credit_line(a) else "")
                   + (" (title by a curator)" if curator_titled(a) else ""))
    typer.echo("  wall text: " + (a.wall_text.replace("\n", "\n    ") if a.wall_text else "(not written)"))
    if a.tags:
        typer.echo("  tags: " + ", ".join(sorted(t.name for t in a.tags)))
    for m, path in files:
        typer.echo(f"  {m.role:<12} {m.mime:<16} {m.size:>10} B  {path}")
    typer.echo("  recipe: " + json.dumps(a.recipe, indent=2, default=str).replace("\n", "\n  "))


@catalogue_app.command("export")
def export(ctx: typer.Context, artwork_ids: list[int] = typer.Argument(..., help="artwork ids"),
           to: Path = typer.Option(..., "--to", help="folder to copy the files into (made if missing)"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Copy artworks' media into a folder as <id>-<role>.<ext> (names any program recognises)."""
    from catalogue.files import export_artwork
    from gallery.errors import BadInput, GalleryError

    cat = state(ctx).catalogue
    arts = [cat.get(i) for i in artwork_ids]
    missing = [i for i, a in zip(artwork_ids, arts, strict=True) if a is None]
    if missing:
        raise BadInput(f"no artwork with id {', '.join(map(str, missing))}")
    if to.exists() and not to.is_dir():
        raise BadInput(f"--to {to}: not a folder")
    gone = [f"artwork {a.id} {m.role}" for a in arts for m in a.media if not cat.media_path(m).is_file()]
    if gone:  # checked first: an export either copies everything or nothing
        raise GalleryError(f"missing media blobs ({', '.join(gone)}); `gallery catalogue verify` reports them")
    written = {a.id: [str(p) for p in export_artwork(cat, a, to)] for a in arts}
    from catalogue.editing import has_wall_text, wall_text_of

    for a in arts:  # the wall text a curator wrote, beside the media: <id>-label.json
        if has_wall_text(a):
            label = to / f"{a.id}-label.json"
            label.write_text(json.dumps({"artwork": a.id, "kind": a.kind, **wall_text_of(a),
                                         "tags": sorted(t.name for t in a.tags)}, indent=2, ensure_ascii=False))
            written[a.id].append(str(label))
    if as_json:
        typer.echo(json.dumps({"files": written}))
        return
    for aid, paths in written.items():
        typer.echo(f"artwork {aid}: " + ", ".join(Path(p).name for p in paths))
    typer.echo(f"copied {sum(map(len, written.values()))} files into {to}")


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


# ---- a curator edits works (catalogue.editing) ----------------------------------------------------
MAX_TEXT_FILE = 64 * 1024


def _read_text_file(path: Path) -> str:
    import sys

    from gallery.errors import BadInput

    try:
        data = sys.stdin.buffer.read(MAX_TEXT_FILE + 1) if str(path) == "-" else path.open("rb").read(MAX_TEXT_FILE + 1)
    except OSError as e:
        raise BadInput(f"--text-file {path}: cannot read it ({e.strerror or e})") from e
    if len(data) > MAX_TEXT_FILE:
        raise BadInput(f"--text-file {path}: over {MAX_TEXT_FILE // 1024} KiB; the wall text is one paragraph")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInput(f"--text-file {path}: not UTF-8 text (byte {e.start})") from e


@catalogue_app.command("edit")
def edit(ctx: typer.Context, artwork_id: int,
         title: str | None = typer.Option(None, "--title", help="the work's title (cannot be empty)"),
         artist: str | None = typer.Option(None, "--artist", help="artist ('' clears it)"),
         year: str | None = typer.Option(None, "--year", help="year 1000..2200 ('' clears it)"),
         medium: str | None = typer.Option(None, "--medium", help="medium, e.g. 'StyleGAN2 latent walk, video'"),
         text: str | None = typer.Option(None, "--text", help="the wall text paragraph ('' clears it)"),
         text_file: Path | None = typer.Option(None, "--text-file", help="read the paragraph from a file (- = stdin)"),
         tag: list[str] = typer.Option([], "--tag", help="add a tag (repeatable)"),
         untag: list[str] = typer.Option([], "--untag", help="remove a tag (repeatable)"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Edit a work's wall text (title, artist, year, medium, paragraph) and tags, in one transaction."""
    from catalogue.editing import UNSET, wall_text_of
    from catalogue.editing import edit as do_edit
    from gallery.errors import BadInput

    if text is not None and text_file is not None:
        raise BadInput("give --text or --text-file, not both")
    if text_file is not None:
        text = _read_text_file(text_file)
    fields = {"title": title, "artist": artist, "year": year, "medium": medium, "wall_text": text}
    if all(v is None for v in fields.values()) and not tag and not untag:
        raise BadInput("nothing to change: give --title, --artist, --year, --medium, --text/--text-file, "
                       "--tag or --untag")
    cat = state(ctx).catalogue
    changed = do_edit(cat, artwork_id, **{k: UNSET if v is None else v for k, v in fields.items()},
                      add_tags=tag, remove_tags=untag, claim_title=title is not None)
    a = cat.get(artwork_id)
    if as_json:
        typer.echo(json.dumps({"artwork": artwork_id, "changed": changed, **wall_text_of(a),
                               "tags": sorted(t.name for t in a.tags)}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"artwork {artwork_id}: " + (f"changed {', '.join(changed)}" if changed else "nothing changed"))


@catalogue_app.command("hide")
def hide(ctx: typer.Context, artwork_ids: list[int] = typer.Argument(..., help="artwork ids"),
         reason: str | None = typer.Option(None, "--reason", help="why (kept as the status reason)")) -> None:
    """Hide works: the show, search and set suggestions leave them out (all or nothing)."""
    from catalogue.editing import hide as do_hide

    changed = do_hide(state(ctx).catalogue, artwork_ids, reason)
    same = [i for i in dict.fromkeys(artwork_ids) if i not in changed]
    typer.echo(f"hidden: {', '.join(map(str, changed)) or 'none'}"
               + (f" (already hidden: {', '.join(map(str, same))})" if same else ""))


@catalogue_app.command("unhide")
def unhide(ctx: typer.Context, artwork_ids: list[int] = typer.Argument(..., help="artwork ids")) -> None:
    """Show hidden works again (a quarantined work is refused: its media are broken)."""
    from catalogue.editing import unhide as do_unhide

    changed = do_unhide(state(ctx).catalogue, artwork_ids)
    same = [i for i in dict.fromkeys(artwork_ids) if i not in changed]
    typer.echo(f"shown again: {', '.join(map(str, changed)) or 'none'}"
               + (f" (were not hidden: {', '.join(map(str, same))})" if same else ""))


@catalogue_app.command("delete")
def delete(ctx: typer.Context, artwork_ids: list[int] = typer.Argument(..., help="artwork ids"),
           yes: bool = typer.Option(False, "--yes", help="really delete (without it: only say what would go)"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Delete works (all or nothing). Without --yes it prints what would go and deletes nothing (exit 0);
    a minted work or one in a frozen set is refused (exit 2). Media blobs go at the next `catalogue gc`."""
    import shutil

    from catalogue.editing import delete as do_delete
    from catalogue.editing import plan_delete
    from gallery.errors import BadInput
    from gallery.results import files_root

    st = state(ctx)
    plans = plan_delete(st.catalogue, artwork_ids)
    refused = [p for p in plans if p.refusals]
    if refused:
        raise BadInput("nothing deleted: " + " | ".join(p.describe() for p in refused))
    if yes:
        plans = do_delete(st.catalogue, artwork_ids)
        for p in plans:  # the files view's links of a deleted work (they would dangle)
            shutil.rmtree(files_root(st.settings) / str(p.artwork_id), ignore_errors=True)
    if as_json:
        typer.echo(json.dumps({"deleted": yes, "artworks": [p.as_dict() for p in plans]}, indent=2,
                              ensure_ascii=False))
        return
    for p in plans:
        typer.echo(("deleted " if yes else "would delete ") + p.describe())
    if not yes:
        typer.echo("nothing deleted: run again with --yes to delete")
