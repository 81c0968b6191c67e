"""`gallery curate …`: index, search, similar, select, dups, set …, vary, between, serve."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from curation.cli_queries import query_app
from gallery.errors import BadInput, GalleryError
from gallery.state import state

curate_app = typer.Typer(no_args_is_help=True, help="Curation: content search, the map, sets and exports.")
set_app = typer.Typer(no_args_is_help=True, help="Sets (collections) of artworks.")
curate_app.add_typer(set_app, name="set")
curate_app.add_typer(query_app, name="query")


def register(app: typer.Typer, **_: Any) -> None:
    app.add_typer(curate_app, name="curate")


def searcher(ctx: typer.Context, embedding: str | None = None, update: bool = True) -> Any:
    """The encoder, the catalogue and its index; new artworks get their features first."""
    from curation.search import open_searcher

    st = state(ctx)
    return open_searcher(st.settings, st.catalogue, embedding, update)


def _date(v: str | None, what: str) -> datetime | None:
    if not v:
        return None
    try:
        return datetime.fromisoformat(v)
    except ValueError as e:
        raise BadInput(f"{what}: {v!r} is not a date (YYYY-MM-DD or ISO 8601)") from e


def _filters(kind: list[str] | None, model: str | None, since: str | None, until: str | None,
             min_rating: int | None, tag: list[str] | None, rng: list[str] | None) -> Any:
    from curation.search import Filters, parse_range

    return Filters(kinds=kind or [], model=model, since=_date(since, "--since"), until=_date(until, "--until"),
                   min_rating=min_rating, tags=tag or [], ranges=dict(parse_range(r) for r in rng or [])).validate()


def _rows(sr: Any, hits: list[Any]) -> list[dict[str, Any]]:
    from curation.search import feature_table

    feats = feature_table(sr.cat, [h.id for h in hits], ["brightness", "colourfulness", "loudness"])
    out = []
    for h in hits:
        a = sr.cat.get(h.id)
        out.append({"id": h.id, "score": None if h.score is None else round(h.score, 4), "kind": a.kind,
                    "title": a.title, "created": a.created.isoformat(), "rating": a.rating,
                    "tags": sorted(t.name for t in a.tags),
                    "features": {k: round(v, 4) for k, v in feats.get(h.id, {}).items()}})
    return out


def _print(rows: list[dict[str, Any]], as_json: bool, title: str) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table("id", "score", "kind", "title", "brightness", "tags", title=title)
    for r in rows:
        b = r["features"].get("brightness")
        t.add_row(str(r["id"]), "" if r["score"] is None else f"{r['score']:.3f}", r["kind"], r["title"],
                  "" if b is None else f"{b:.2f}", ", ".join(r["tags"]))
    Console().print(t)


KindOpt = typer.Option(None, "--kind", help="only these kinds (repeat)")
ModelOpt = typer.Option(None, "--model", help="model name or weights sha256 prefix")
SinceOpt = typer.Option(None, "--since", help="created on or after (YYYY-MM-DD)")
UntilOpt = typer.Option(None, "--until", help="created before (YYYY-MM-DD)")
RatingOpt = typer.Option(None, "--min-rating", help="rating at least")
TagOpt = typer.Option(None, "--tag", help="has this tag (repeat: all of them)")
RangeOpt = typer.Option(None, "--range", help="feature range NAME=LO:HI, e.g. brightness=0.2:0.4 (repeat)")


@curate_app.command("index")
def index_cmd(ctx: typer.Context, force: bool = typer.Option(False, help="recompute every artwork"),
              embedding: str | None = typer.Option(None, help="auto | clip | hist (default: config)")) -> None:
    """Compute features and embeddings for artworks that lack them, and (re)build the vector index."""
    from curation.embed import feature_name, load_encoder
    from curation.index import get_index
    from curation.indexer import index_catalogue
    from gallery.logs import track

    st = state(ctx)
    enc = load_encoder(st.settings, embedding)
    rep = index_catalogue(st.catalogue, enc, force=force,
                          progress=lambda it: track(it, total=len(it), description="features"))
    idx = get_index(st.settings, st.catalogue, feature_name(enc), enc.model_sha256)
    typer.echo(f"indexed {len(rep.indexed)} artwork(s), {rep.up_to_date} up to date, {len(rep.skipped)} skipped; "
               f"{enc.name} index: {len(idx)} vectors of {idx.dim} ({idx.kind})")
    for aid, why in rep.skipped:
        typer.echo(f"  skipped {aid}: {why}", err=True)


@curate_app.command("search")
def search_cmd(ctx: typer.Context, text: str | None = typer.Argument(None, help="what to look for, in words"),
               image: Path | None = typer.Option(None, "--image", help="search by an example image file"),
               k: int | None = typer.Option(None, "-k", "--limit", min=1, max=10_000,
                                            help="results to show (default 20); kept by --save only when given"),
               kind: list[str] | None = KindOpt, model: str | None = ModelOpt, since: str | None = SinceOpt,
               until: str | None = UntilOpt, min_rating: int | None = RatingOpt, tag: list[str] | None = TagOpt,
               rng: list[str] | None = RangeOpt, as_json: bool = typer.Option(False, "--json"),
               save: str | None = typer.Option(None, "--save", help="save this search (text, filters, limit) by "
                                               "this name, for `gallery curate query` and the show's programmes"),
               replace: bool = typer.Option(False, "--replace", help="with --save: replace a saved search of that "
                                            "name")) -> None:
    """Search by text, by an example image, or by feature ranges and filters alone."""
    from curation import queries

    f = _filters(kind, model, since, until, min_rating, tag, rng)
    if save is not None:  # refused before searching: an image search, a bad or taken name, a bad filter
        if image is not None:
            raise BadInput("--save keeps a text or filter search; a search by --image cannot be saved")
        queries.check(state(ctx).catalogue, save, text, f, k, replace)
    data = None
    if image is not None:
        if not image.is_file():
            raise BadInput(f"--image {image}: no such file")
        data = image.read_bytes()
    sr = searcher(ctx)
    hits = sr.search(text=text, image=data, filters=f, k=k or 20)
    _print(_rows(sr, hits), as_json, f"search {text!r}" if text else "search")
    if save is not None:
        q = queries.save(sr.cat, save, text, f, k, replace=replace)
        typer.echo(f"saved query {q.name!r} ({q.describe()})", err=as_json)


@curate_app.command("similar")
def similar_cmd(ctx: typer.Context, artwork_id: int = typer.Argument(..., help="artwork id"),
                k: int = typer.Option(12, "-k", "--limit", min=1, max=10_000),
                kind: list[str] | None = KindOpt, as_json: bool = typer.Option(False, "--json")) -> None:
    """Artworks most like this one ("more like this")."""
    sr = searcher(ctx)
    hits = sr.search(like=artwork_id, filters=_filters(kind, None, None, None, None, None, None), k=k)
    _print(_rows(sr, hits), as_json, f"like #{artwork_id}")


@curate_app.command("select")
def select_cmd(ctx: typer.Context, size: int = typer.Option(6, "--size", min=1, max=1000),
               query: str | None = typer.Option(None, "--query", help="text query (else: cover everything)"),
               like: int | None = typer.Option(None, "--like", help="an artwork to build around"),
               variety: float | None = typer.Option(None, "--variety", help="0 relevance .. 1 variety"),
               pool: int = typer.Option(200, help="best matches MMR chooses from"),
               kind: list[str] | None = KindOpt, rng: list[str] | None = RangeOpt,
               save: str | None = typer.Option(None, "--save", help="save as a new set with this title"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """A suggested set: diverse matches of a query (MMR), or a coverage of the whole catalogue."""
    from curation import sets
    from curation.search import Hit
    from curation.select import suggest

    sr = searcher(ctx)
    v = sr.settings.curation.variety if variety is None else variety
    ids = suggest(sr, size, text=query, like=like, variety=v, pool=pool,
                  filters=_filters(kind, None, None, None, None, None, rng))
    rows = _rows(sr, [Hit(a) for a in ids])
    if save:
        cid = sets.create(sr.cat, save, description=f"suggested: query={query!r} variety={v}", artwork_ids=ids,
                          extra={"suggested": {"query": query, "like": like, "variety": v, "size": size}})
        typer.echo(f"saved as set {cid}", err=as_json)
    _print(rows, as_json, f"select {size} (variety {v})")


@curate_app.command("dups")
def dups_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Near-duplicate groups (perceptual hash within curation.dup_hash_bits, or embeddings alike)."""
    from curation.search import Filters, feature_vectors, filtered_ids
    from curation.select import near_duplicates

    sr = searcher(ctx)
    cs = sr.settings.curation
    ids = [a for a in filtered_ids(sr.cat, Filters()) if sr.index.has(a)]
    hv = feature_vectors(sr.cat, ids, "phash")
    ids = [a for a in ids if a in hv]
    import numpy as np

    groups = near_duplicates(ids, np.stack([hv[a] for a in ids]) if ids else None,
                             sr.index.vectors(ids) if ids else None, cs.dup_hash_bits, cs.dup_cosine)
    if as_json:
        typer.echo(json.dumps(groups))
    else:
        for g in groups:
            typer.echo(" ".join(map(str, g)))
        typer.echo(f"{len(groups)} group(s) of near-duplicates among {len(ids)} artworks", err=True)


@curate_app.command("map")
def map_cmd(ctx: typer.Context, out: Path = typer.Argument(..., help="PNG file to write"),
            axis: str = typer.Option("brightness", help="brightness (the chapter's Fig. 2) | pca"),
            limit: int = typer.Option(500, min=1, max=20_000, help="at most this many artworks")) -> None:
    """A still of the map: thumbnails laid out by brightness (x) and the embedding (y), or by PCA."""
    p = write_map_png(searcher(ctx), out, axis, limit)
    typer.echo(str(p))


def write_map_png(sr: Any, out: Path, axis: str = "brightness", limit: int = 500) -> Path:
    import cv2

    from curation.features import decode_image
    from curation.indexer import visual_media
    from curation.mapview import layout, render_png
    from curation.search import Filters, feature_table, filtered_ids

    if out.suffix.lower() != ".png":
        raise BadInput(f"{out}: the map is written as a .png file")
    ids = [a for a in filtered_ids(sr.cat, Filters()) if sr.index.has(a)][:limit]
    bright = {a: v["brightness"] for a, v in feature_table(sr.cat, ids, ["brightness"]).items() if "brightness" in v}
    pts = layout(ids, sr.index.vectors(ids), axis=axis, brightness=bright)
    thumbs = {}
    for p in pts:
        a = sr.cat.get(p["id"])
        m = a.first_media("thumbnail") or visual_media(a)
        if m is not None:
            try:
                thumbs[a.id] = decode_image(sr.cat.media_path(m))
            except (BadInput, OSError):
                continue
    label = "darker  <-  brightness  ->  brighter" if axis == "brightness" else None
    img = render_png(pts, thumbs, axis_label=label)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
        raise GalleryError(f"could not write {out}")
    return out


# ---- sets ------------------------------------------------------------------------------------
@set_app.command("create")
def set_create(ctx: typer.Context, title: str = typer.Argument(...),
               artwork_ids: list[int] | None = typer.Argument(None),
               description: str = typer.Option("", "--description")) -> None:
    """Create a set (optionally with artworks)."""
    from curation import sets

    cid = sets.create(state(ctx).catalogue, title, description, artwork_ids or [])
    typer.echo(str(cid))


@set_app.command("add")
def set_add(ctx: typer.Context, set_id: int, artwork_ids: list[int]) -> None:
    """Append artworks to a set."""
    from curation import sets

    added = sets.add(state(ctx).catalogue, set_id, artwork_ids)
    typer.echo(f"added {len(added)} to set {set_id}")


@set_app.command("remove")
def set_remove(ctx: typer.Context, set_id: int, artwork_ids: list[int]) -> None:
    """Remove artworks from a set."""
    from curation import sets

    sets.remove(state(ctx).catalogue, set_id, artwork_ids)
    typer.echo(f"removed {len(artwork_ids)} from set {set_id}")


@set_app.command("reorder")
def set_reorder(ctx: typer.Context, set_id: int, artwork_ids: list[int]) -> None:
    """Give the set's artworks in their new order."""
    from curation import sets

    sets.reorder(state(ctx).catalogue, set_id, artwork_ids)
    typer.echo(f"set {set_id} reordered")


@set_app.command("edit")
def set_edit(ctx: typer.Context, set_id: int, title: str | None = typer.Option(None, "--title"),
             description: str | None = typer.Option(None, "--description")) -> None:
    """Change a set's title or description."""
    from curation import sets

    sets.edit(state(ctx).catalogue, set_id, title, description)
    typer.echo(f"set {set_id} updated")


@set_app.command("freeze")
def set_freeze(ctx: typer.Context, set_id: int) -> None:
    """Freeze a set: no more changes (e.g. before minting)."""
    from curation import sets

    sets.freeze(state(ctx).catalogue, set_id)
    typer.echo(f"set {set_id} frozen")


@set_app.command("ls")
def set_ls(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List sets."""
    from curation import sets

    rows = [{**{k: v for k, v in sets.as_dict(c).items() if k != "items"}, "size": n}
            for c, n in sets.ls(state(ctx).catalogue)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['id']:>4}  {r['size']:>3} items  {'frozen ' if r['frozen_at'] else ''}{r['title']}")


@set_app.command("show")
def set_show(ctx: typer.Context, set_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """A set's details and its artworks in order."""
    from curation import sets

    d = sets.as_dict(sets.show(state(ctx).catalogue, set_id))
    if as_json:
        typer.echo(json.dumps(d, indent=2))
        return
    typer.echo(f"set {d['id']}: {d['title']}{' (frozen)' if d['frozen_at'] else ''}\n  {d['description']}")
    cat = state(ctx).catalogue
    for i, a in enumerate(d["items"]):
        art = cat.get(a)
        typer.echo(f"  {i + 1:>3}. #{a} {art.kind} {art.title}")


@set_app.command("export")
def set_export(ctx: typer.Context, set_id: int, dest: Path,
               as_zip: bool = typer.Option(False, "--zip", help="write a .zip instead of a folder"),
               overwrite: bool = typer.Option(False, "--overwrite")) -> None:
    """Export a set: media, manifest.json with recipes, contact_sheet.png."""
    from curation.export import export_set

    p = export_set(state(ctx).catalogue, set_id, dest, as_zip=as_zip, overwrite=overwrite)
    typer.echo(str(p))


# ---- back to generation ----------------------------------------------------------------------
@curate_app.command("vary")
def vary_cmd(ctx: typer.Context, artwork_id: int, count: int = typer.Option(4, min=1, max=64),
             sigma: float = typer.Option(0.3), seed: int = typer.Option(0),
             now: bool = typer.Option(False, "--now", help="run now instead of in tonight's window")) -> None:
    """Queue "variations around this" (seeded perturbations of its latent position)."""
    from curation.generate import queue_variations, run_now

    st = state(ctx)
    runs = queue_variations(st.catalogue, artwork_id, count, sigma, seed, window=None if now else "tonight")
    typer.echo(f"queued run(s) {runs}")
    if now:
        for r in runs:
            typer.echo(f"run {r}: artworks {run_now(st.settings, st.catalogue, r)}")


@curate_app.command("between")
def between_cmd(ctx: typer.Context, a: int, b: int, steps: int = typer.Option(8, min=2, max=256),
                seed: int = typer.Option(0), now: bool = typer.Option(False, "--now")) -> None:
    """Queue a walk "between these two" latent positions."""
    from curation.generate import queue_between, run_now

    st = state(ctx)
    r = queue_between(st.catalogue, a, b, steps, seed, window=None if now else "tonight")
    typer.echo(f"queued run {r}")
    if now:
        typer.echo(f"run {r}: artworks {run_now(st.settings, st.catalogue, r)}")


@curate_app.command("queue")
def queue_cmd(ctx: typer.Context, run: bool = typer.Option(False, "--run", help="run every queued job now"),
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Generation jobs queued from curation (variations, between) that have not run yet."""
    from curation.generate import queued, run_now

    st = state(ctx)
    rows = queued(st.catalogue)
    info = [{"run": r.id, "kind": r.job_kind, "window": r.window, "created": r.created.isoformat(),
             "parents": (r.extra or {}).get("parents"), "title": r.spec["job"].get("title")} for r in rows]
    if not run:
        typer.echo(json.dumps(info, indent=2) if as_json else
                   "\n".join(f"{i['run']:>5} {i['kind']} {i['title']} ({i['window'] or 'now'})" for i in info)
                   or "nothing queued")
        return
    failed = 0
    for r in rows:
        try:
            typer.echo(f"run {r.id}: artworks {run_now(st.settings, st.catalogue, r.id)}")
        except Exception as e:  # noqa: BLE001 - the run row records it; carry on with the next
            failed += 1
            typer.echo(f"run {r.id} failed: {e}", err=True)
    if failed:
        raise GalleryError(f"{failed} of {len(rows)} queued run(s) failed (see `gallery runs --failed`)")


@curate_app.command("serve")
def serve_cmd(ctx: typer.Context, host: str | None = typer.Option(None, help="default: curation.host"),
              port: int | None = typer.Option(None, help="default: curation.port")) -> None:
    """The web app: grid, search, detail, map, set builder. Loopback only unless a token is set."""
    import uvicorn

    from curation.web.app import create_app
    from curation.web.security import require_token

    st = state(ctx)
    cs = st.settings.curation
    h = host or cs.host
    require_token(h, cs.token_env)
    app = create_app(st.settings, st.catalogue)
    typer.echo(f"curation web app on http://{h}:{port or cs.port}/")
    uvicorn.run(app, host=h, port=port or cs.port, log_level="warning")
