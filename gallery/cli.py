"""The `gallery` command line. Each package owns its sub-app; heavy imports happen inside commands."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import typer

from gallery.errors import BadInput, GalleryError
from gallery.state import AppState, state

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Latent Gallery: generate from latent spaces, show, curate and mint.")
config_app = typer.Typer(no_args_is_help=True, help="Check and inspect config.yaml.")
generate_app = typer.Typer(no_args_is_help=True, help="Generate artworks (each with its full recipe).")
train_app = typer.Typer(no_args_is_help=True, help="Train the tiny presets (or your own data).")
import_app = typer.Typer(no_args_is_help=True, help="Register real checkpoints (never executes them).")
app.add_typer(config_app, name="config")
app.add_typer(generate_app, name="generate")
app.add_typer(train_app, name="train")
app.add_typer(import_app, name="import")

# Modules with ``register(app, generate_app, train_app, import_app)``: each adds its own commands.
PLUGINS = [
    "catalogue.cli",
    "generator.cli",
    "installation.cli",
    "generator.schedule.cli",
    "curation.cli",
    "minting.cli",
]


@app.callback()
def _root(ctx: typer.Context,
          config: Path | None = typer.Option(None, "--config", "-c", help="config.yaml to use",
                                             envvar="GALLERY_CONFIG")) -> None:
    from gallery.wiring import install

    ctx.obj = AppState(config_path=config)
    install(settings=lambda st=ctx.obj: st.settings)  # hooks between packages (features, saved queries)


@config_app.command("check")
def config_check(ctx: typer.Context, config: Path | None = typer.Option(None, "--config", "-c")) -> None:
    """Validate config.yaml (and GALLERY__* overrides); exit 2 with the reasons if it is wrong."""
    st = state(ctx)
    if config is not None:
        st.config_path = config
    from gallery.config import load_settings

    s = load_settings(st.config_path)
    _check_programmes(s)
    typer.echo(f"{s.source}: ok (data_dir={s.data_dir}, catalogue={s.catalogue_url.split('://')[0]})")


def _check_programmes(s: Any) -> None:
    """The show's programmes against the catalogue, when it exists: a set or saved query that is not there
    is bad input (exit 2). No catalogue yet: said, not created."""
    if not any(p.source[0] in ("set", "query") for p in s.show.programmes.values()):
        return
    from sqlalchemy.engine import make_url

    url = make_url(s.catalogue_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        typer.echo(f"note: no catalogue at {url.database}: the programmes' sets and queries are not checked", err=True)
        return
    from catalogue import open_catalogue
    from installation.programmes import check_catalogue

    try:
        cat = open_catalogue(s)
    except Exception as e:  # noqa: BLE001 - unreachable server: the rest of the config is still checked
        typer.echo(f"note: catalogue not readable ({type(e).__name__}): programmes not checked against it", err=True)
        return
    try:
        problems = check_catalogue(s.show, cat)
    finally:
        cat.close()
    if problems:
        raise BadInput(f"{s.source}: " + "; ".join(problems))


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective settings (after defaults and environment overrides) as JSON."""
    s = state(ctx).settings
    typer.echo(json.dumps(s.model_dump(mode="json"), indent=2))


@app.command("demo")
def demo(ctx: typer.Context,
         data_dir: Path | None = typer.Option(None, help="where the demo writes (default: data_dir of config)"),
         quick: bool = typer.Option(False, help="the smallest run of every step")) -> None:
    """The whole loop on the embedded defaults: generate, catalogue, curate, mint, preview the show."""
    from gallery.demo import run_demo

    st = state(ctx)
    run_demo(st, data_dir=data_dir, quick=quick)


def _register_plugins() -> None:
    for name in PLUGINS:
        mod = importlib.import_module(name)
        mod.register(app=app, generate_app=generate_app, train_app=train_app, import_app=import_app)


_register_plugins()


def main(argv: list[str] | None = None) -> None:
    """Entry point: 0 done, 1 failed while running, 2 bad input (usage errors included)."""
    from gallery.redact import install_excepthook, redact

    install_excepthook()  # an uncaught exception's traceback is redacted too
    try:
        app(args=argv, prog_name="gallery")  # standalone: click exits with 2 on usage errors
    except BadInput as e:
        typer.echo(f"error: {redact(str(e))}", err=True)
        sys.exit(2)
    except GalleryError as e:
        typer.echo(f"error: {redact(str(e))}", err=True)
        sys.exit(e.exit_code)


if __name__ == "__main__":
    main()
