"""Generator commands that are not tied to one model family (each family adds its own in its cli.py)."""

from __future__ import annotations

import importlib

import typer

from gallery.state import state

# Model families (and the scheduler) add their commands through ``register(...)`` in these modules.
FAMILY_CLIS: list[str] = ["generator.musicvae.cli", "generator.vqgan_clip.cli", "generator.stylegan.cli",
                          "generator.lts.cli", "generator.datasets.cli"]


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    @generate_app.command("procedural")
    def procedural(ctx: typer.Context, count: int = typer.Option(4, min=1, max=10_000),
                   size: int = typer.Option(256, min=16, max=4096), seed: int = typer.Option(0, min=0),
                   as_json: bool = typer.Option(False, "--json")) -> None:
        """Procedurally drawn images (no model): a quick way to fill a catalogue."""
        from generator.cli_run import generate

        generate(state(ctx), "procedural.images", {"count": count, "size": size}, seed, as_json)

    # `gallery catalogue retitle` lives here: the catalogue cannot import the generator's titles
    from catalogue.cli import catalogue_app

    @catalogue_app.command("retitle")
    def retitle(ctx: typer.Context,
                defaults: bool = typer.Option(False, "--defaults", help="re-derive internal-reference default "
                                              "titles (never a curator's)"),
                dry_run: bool = typer.Option(False, "--dry-run", help="print what would change, write nothing"),
                as_json: bool = typer.Option(False, "--json")) -> None:
        """Give works whose title is an internal reference (artwork:6, #6, corpus:..., seed 0.0) a title a
        visitor reads, from their recipe and lineage; titles a curator chose are kept."""
        import json

        from gallery.errors import BadInput
        from generator.retitle import retitle_defaults

        if not defaults:
            raise BadInput("catalogue retitle: give --defaults (re-derive the default titles of works no curator "
                           "retitled); one work's title is changed with `gallery catalogue edit`")
        res = retitle_defaults(state(ctx).catalogue, dry_run=dry_run)
        if as_json:
            typer.echo(json.dumps(res.to_dict(), ensure_ascii=False))
            return
        for c in res.changed:
            typer.echo(f"{c.artwork_id:>6} {c.kind}: {c.old!r} -> {c.new!r}")
        verb = "would retitle" if dry_run else "retitled"
        typer.echo(f"{verb} {len(res.changed)} work(s); kept {res.curator} curator title(s) and {res.kept} other(s)")

    for name in FAMILY_CLIS:
        importlib.import_module(name).register(app=app, generate_app=generate_app, train_app=train_app,
                                               import_app=import_app)
