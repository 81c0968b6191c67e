"""`gallery demo`: the whole loop on the embedded defaults. Each capability adds a step to STEPS."""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gallery.state import AppState

if TYPE_CHECKING:
    from catalogue import Catalogue
    from gallery.config import Settings

log = logging.getLogger("gallery.demo")

# "module:function" steps, run in order; each takes a DemoContext and returns a dict summary.
STEPS: list[str] = [
    "gallery.demo:procedural_step",
    "generator.stylegan.demo:demo_step",
    "generator.vqgan_clip.demo:progression_step",
    "generator.lts.demo:soundscape_step",
    "generator.musicvae.demo:interpolation_step",
    "generator.schedule.demo:schedule_step",
    "curation.demo:demo_step",
    "minting.demo:mint_step",
    "installation.demo:preview_step",  # keep last: the preview shows everything made above
]


@dataclass
class DemoContext:
    settings: Settings
    catalogue: Catalogue
    out_dir: Path
    quick: bool = False
    results: dict[str, Any] = field(default_factory=dict)  # what earlier steps made, by step name


def procedural_step(dc: DemoContext) -> dict[str, Any]:
    from generator.jobs import JobContext, JobSpec
    from generator.run import execute_run

    spec = JobSpec(kind="procedural.images", params={"count": 4 if dc.quick else 6, "size": 256}, seed=1)
    ids = execute_run(spec, JobContext(settings=dc.settings, catalogue=dc.catalogue, workdir=dc.out_dir, seed=1))
    return {"artworks": ids}


def step_name(step: str) -> str:
    """'generator.stylegan.demo:demo_step' -> 'stylegan' (the key of its result in DemoContext.results)."""
    mod = step.partition(":")[0].removesuffix(".demo")
    return mod.rsplit(".", 1)[-1]


def run_demo(st: AppState, data_dir: Path | None = None, quick: bool = False) -> dict[str, Any]:
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from gallery.logs import setup_logging

    overrides = {"data_dir": str(data_dir.resolve())} if data_dir else None
    settings = load_settings(st.config_path, overrides=overrides)
    setup_logging(settings.logging.level)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    cat = open_catalogue(settings)
    out = settings.path("demo")
    out.mkdir(parents=True, exist_ok=True)
    dc = DemoContext(settings=settings, catalogue=cat, out_dir=out, quick=quick)
    timings = {}
    from gallery.progress import cli_progress

    with cli_progress() as progress:
        for k, step in enumerate(STEPS):
            mod, _, fn = step.partition(":")
            name = step_name(step)
            progress("demo", k, len(STEPS), now=name)
            t0 = time.monotonic()
            log.info("demo step %s", step)
            dc.results[name] = getattr(importlib.import_module(mod), fn)(dc)
            timings[name] = time.monotonic() - t0
        progress("demo", len(STEPS), len(STEPS), now="done")
    summary(dc, timings)
    return dc.results


def summary(dc: DemoContext, timings: dict[str, float]) -> None:
    from rich.console import Console

    con = Console()
    st = dc.catalogue.stats()
    con.print(f"[bold]Latent Gallery demo[/bold]: data in {dc.settings.data_dir}")
    con.print(f"  catalogue: {st['url']}  ({st['artworks']} artworks: {st['by_kind']})")
    con.print(f"  media store: {st['media_root']}  ({st['blobs']} blobs, {st['blob_bytes'] / 1e6:.1f} MB)")
    con.print(f"  demo outputs: {dc.out_dir}")
    for name, res in dc.results.items():
        con.print(f"  {name} ({timings[name]:.1f}s): {res}")
