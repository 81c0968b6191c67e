"""`gallery dataset images|emoji|ls|show|rm`: training sets made from a folder of pictures (docs/datasets.md)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import typer

from gallery.errors import BadInput
from gallery.state import state


def _summary(res: Any, sheet: Path) -> str:
    c = res.counts()
    drops = ", ".join(f"{c[f'dropped_{r}']} {r.replace('_', ' ')}" for r in
                      ("unreadable", "too_large", "too_small", "duplicate", "near_duplicate") if c[f"dropped_{r}"])
    return (f"dataset {res.name!r}: {c['files']} picture file(s), kept {c['kept']}"
            + (f" ({c['upscaled']} upscaled)" if c["upscaled"] else "")
            + (f"; dropped {drops}" if drops else "; none dropped")
            + f"; {res.resolution} px, {res.fit}; {res.seconds:.1f} s\n"
            f"  data {res.folder} (sha256 {res.data_sha256[:12]})\n  contact sheet {sheet}")


def _report(res: Any, as_json: bool) -> None:
    from generator.datasets.image_store import SHEET_FILE

    sheet = res.folder / SHEET_FILE
    if as_json:
        typer.echo(json.dumps({**res.provenance(), "name": res.name, "path": str(res.folder),
                               "contact_sheet": str(sheet), "data_sha256": res.data_sha256}, default=str))
        return
    for d in res.dropped:
        typer.echo(f"  dropped {d.file}: {d.reason.replace('_', ' ')}: {d.detail}"
                   + (f" (of {d.of})" if d.of else ""), err=True)
    typer.echo(_summary(res, sheet))


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    dataset_app = typer.Typer(no_args_is_help=True, help="Training sets from a folder of pictures (and the emoji).")
    app.add_typer(dataset_app, name="dataset")

    @dataset_app.command("images")
    def images(ctx: typer.Context,
               folder: Path = typer.Argument(..., help="folder of JPEG/PNG/WebP pictures (read recursively)"),
               name: str = typer.Option(..., "--name", help="the dataset's name (letters, digits, . _ -)"),
               resolution: int = typer.Option(..., "--resolution", help="64 | 128 | 256 | 512 | 1024"),
               fit: str = typer.Option("crop", "--fit", help="crop: the centred square; pad: the whole picture "
                                       "on a square of the background colour"),
               allow_upscale: bool = typer.Option(False, "--allow-upscale", help="keep pictures smaller than the "
                                                  "resolution, upscaled (each named in a warning)"),
               background: str = typer.Option("white", help="colour behind transparent pixels and of the padding"),
               keep_near: bool = typer.Option(False, "--keep-near-duplicates",
                                              help="keep resized or re-encoded copies (exact ones are dropped)"),
               replace: bool = typer.Option(False, "--replace", help="rebuild a dataset of that name"),
               as_json: bool = typer.Option(False, "--json")) -> None:
        """Make a square image dataset from an artist's folder; register it; write a contact sheet."""
        from gallery.logs import progress_bar
        from generator.datasets.images import list_images, make_image_dataset, parse_colour

        st = state(ctx)
        bg = parse_colour(background)
        n = len(list_images(folder)[0]) if folder.is_dir() else 0
        with progress_bar(f"dataset {name}", n, quiet=as_json) as bar:
            res = make_image_dataset(st.settings, st.catalogue, folder, name, resolution, fit=fit,
                                     allow_upscale=allow_upscale, background=bg, near=not keep_near, replace=replace,
                                     progress=bar, say=lambda m: typer.echo(m, err=True))
        _report(res, as_json)

    @dataset_app.command("emoji")
    def emoji(ctx: typer.Context,
              name: str = typer.Option("emoji", "--name"),
              resolution: int = typer.Option(64, "--resolution", help="64 | 128 (the glyphs are 136x128 pixels; "
                                             "larger needs --allow-upscale)"),
              limit: int | None = typer.Option(None, "--limit", min=1, help="only the first N glyphs"),
              fit: str = typer.Option("crop", "--fit", help="crop | pad"),
              allow_upscale: bool = typer.Option(False, "--allow-upscale"),
              replace: bool = typer.Option(False, "--replace"),
              as_json: bool = typer.Option(False, "--json")) -> None:
        """The colour emoji of Noto Color Emoji (Debian's fonts-noto-color-emoji, SIL OFL 1.1) as a dataset."""
        from gallery.logs import progress_bar
        from generator.datasets import emoji as em
        from generator.datasets.images import check_name, check_resolution, make_image_dataset

        st = state(ctx)
        check_name(name)
        check_resolution(resolution)
        font = em.require_font()
        work = st.settings.path("work")
        work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="tmp-emoji-", dir=work) as tmp:
            glyphs = em.export_glyphs(Path(tmp), font_path=font, limit=limit)
            with progress_bar(f"dataset {name}", glyphs["written"], quiet=as_json) as bar:
                res = make_image_dataset(
                    st.settings, st.catalogue, Path(tmp), name, resolution, fit=fit, allow_upscale=allow_upscale,
                    replace=replace, progress=bar, say=lambda m: typer.echo(m, err=True),
                    source=f"{em.SOURCE} ({glyphs['font']})", extra={"collection": {"source": em.SOURCE, "licence": em.LICENCE, "font": glyphs["font"],
                                          "font_sha256": glyphs["font_sha256"], "strike_ppem": glyphs["strike_ppem"],
                                          "glyphs_in_font": glyphs["glyphs"], "glyphs_exported": glyphs["written"],
                                          "limit": limit}})
        _report(res, as_json)

    @dataset_app.command("ls")
    def ls(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        """The registered datasets."""
        from catalogue.datasets import dataset_dict, list_datasets

        rows = list_datasets(state(ctx).catalogue)
        if as_json:
            typer.echo(json.dumps([{k: v for k, v in dataset_dict(d).items() if k != "provenance"} for d in rows]))
            return
        if not rows:
            typer.echo("no datasets yet: gallery dataset images FOLDER --name NAME --resolution 64")
        for d in rows:
            c = d.provenance.get("counts", {})
            typer.echo(f"{d.name:20s} {d.kind:7s} {d.count:6d} x {d.resolution} px  {d.provenance.get('fit', '')}  "
                       f"{c.get('files', '?')} files  {d.created:%Y-%m-%d %H:%M}  {d.data_sha256[:12]}")

    @dataset_app.command("show")
    def show(ctx: typer.Context, name: str = typer.Argument(...),
             as_json: bool = typer.Option(False, "--json")) -> None:
        """One dataset: counts, why files were dropped, where it came from, the contact sheet's path."""
        from catalogue.datasets import dataset_dict, get_dataset
        from generator.datasets.image_store import SHEET_FILE
        from generator.datasets.images import dataset_folder

        st = state(ctx)
        d = get_dataset(st.catalogue, name)
        if d is None:
            raise BadInput(f"no dataset named {name!r} (gallery dataset ls)")
        folder = dataset_folder(st.settings, d)
        doc = {**dataset_dict(d), "folder": str(folder), "contact_sheet": str(folder / SHEET_FILE),
               "present": (folder / SHEET_FILE).parent.is_dir()}
        if as_json:
            typer.echo(json.dumps(doc, default=str))
            return
        p = d.provenance
        typer.echo(f"{d.name}: {d.count} images, {d.resolution} px, fit {p.get('fit')}, made {d.created:%Y-%m-%d %H:%M}")
        typer.echo(f"  source    {p.get('source')}")
        for k, v in (p.get("collection") or {}).items():
            typer.echo(f"  {k:9s} {v}")
        typer.echo("  counts    " + ", ".join(f"{k} {v}" for k, v in (p.get("counts") or {}).items()))
        for x in (p.get("dropped") or [])[:20]:
            typer.echo(f"  dropped   {x['file']}: {x['reason']}: {x['detail']}" + (f" (of {x['of']})" if x.get("of") else ""))
        if len(p.get("dropped") or []) > 20:
            typer.echo(f"  ... and {len(p['dropped']) - 20} more (--json lists all)")
        typer.echo(f"  data      {folder} (sha256 {d.data_sha256})" + ("" if doc["present"] else "  MISSING"))
        typer.echo(f"  contact sheet {doc['contact_sheet']}")

    @dataset_app.command("rm")
    def rm(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
        """Forget a dataset and delete its folder."""
        import shutil

        from catalogue.datasets import delete_dataset, get_dataset
        from generator.datasets.images import dataset_folder

        st = state(ctx)
        d = get_dataset(st.catalogue, name)
        if d is None:
            raise BadInput(f"no dataset named {name!r} (gallery dataset ls)")
        folder = dataset_folder(st.settings, d)
        delete_dataset(st.catalogue, name)
        shutil.rmtree(folder, ignore_errors=True)
        typer.echo(f"removed dataset {name!r} ({folder})")
