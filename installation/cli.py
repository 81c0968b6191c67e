"""`gallery show`: the unattended show in a window, or headless into a recording."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from gallery.errors import BadInput
from gallery.state import state


def register(app: typer.Typer, **_: Any) -> None:
    app.command("show")(show)


def show(ctx: typer.Context,
         fullscreen: bool = typer.Option(None, "--fullscreen/--windowed",
                                         help="fullscreen on --display, or a window for staff (default: show.fullscreen)"),
         display: int = typer.Option(None, "--display", help="display number for fullscreen (default: show.display)"),
         headless: bool = typer.Option(False, "--headless", help="no window: draw through EGL (needs --record)"),
         record: Path | None = typer.Option(None, "--record", help="write what visitors see and hear to this .mp4"),
         seconds: float | None = typer.Option(None, "--seconds", help="stop after this many seconds"),
         width: int | None = typer.Option(None, help="width in pixels (default: show.width)"),
         height: int | None = typer.Option(None, help="height in pixels (default: show.height)"),
         fps: float | None = typer.Option(None, help="frames per second (default: show.fps)"),
         as_json: bool = typer.Option(False, "--json", help="print the final status as JSON")) -> None:
    """Play the catalogue: fullscreen/windowed with sound, or --headless --record OUT.mp4 --seconds N."""
    st = state(ctx)
    s = st.settings
    ss = s.show
    if headless and record is None:
        raise BadInput("--headless needs --record OUT.mp4 (a headless show is only useful recorded)")
    if record is not None and seconds is None:
        raise BadInput("--record needs --seconds N (how long the recording is)")
    if seconds is not None and seconds <= 0:
        raise BadInput(f"--seconds must be positive, not {seconds}")
    for name, v in (("width", width), ("height", height)):
        if v is not None and not 16 <= v <= 7680:
            raise BadInput(f"--{name} {v}: use 16..7680 pixels")
    if fps is not None and not 0 < fps <= 240:
        raise BadInput(f"--fps {fps}: use a rate in (0, 240]")
    cat = st.catalogue
    if record is not None:
        from installation.record import record_show

        res = record_show(ss, cat, record, seconds or 0, width=width, height=height, fps=fps)
        summary: dict[str, Any] = {"recording": str(res.path), "frames": res.frames, "seconds": res.seconds,
                                   "size": [res.width, res.height], **res.status}
    else:
        from installation.live import run_live

        full = ss.fullscreen if fullscreen is None else fullscreen
        res2 = run_live(ss, cat, status_file=s.path(ss.status_file), fullscreen=full,
                        display=ss.display if display is None else display, seconds=seconds, width=width,
                        height=height)
        summary = {"frames": res2.frames, "seconds": round(res2.seconds, 1), "quit_by": res2.quit_by, **res2.status}
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        typer.echo(", ".join(f"{k}={v}" for k, v in summary.items() if k in (
            "recording", "frames", "seconds", "items_started", "skipped", "dropped_frames", "last_error", "quit_by")))
