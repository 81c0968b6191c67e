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

    for name in FAMILY_CLIS:
        importlib.import_module(name).register(app=app, generate_app=generate_app, train_app=train_app,
                                               import_app=import_app)
