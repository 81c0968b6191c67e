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
         display: int = typer.Option(None, "--display", help="the display (output) to show on, 0 first: "
                                     "fullscreen on it, or the window opens on it (default: show.display)"),
         headless: bool = typer.Option(False, "--headless", help="no window: draw through EGL (needs --record)"),
         record: Path | None = typer.Option(None, "--record", help="write what visitors see and hear to this .mp4"),
         seconds: float | None = typer.Option(None, "--seconds", help="stop after this many seconds"),
         width: int | None = typer.Option(None, help="width in pixels (default: show.width)"),
         height: int | None = typer.Option(None, help="height in pixels (default: show.height)"),
         fps: float | None = typer.Option(None, help="frames per second (default: show.fps)"),
         size: str | None = typer.Option(None, "--size", metavar="WxH",
                                         help="window (or recording) size, e.g. 1280x720; a window is shrunk to "
                                              "fit its screen (default: --windowed fits the screen)"),
         as_json: bool = typer.Option(False, "--json", help="print the final status as JSON"),
         programme: str | None = typer.Option(None, "--programme",
                                              help="play this programme (show.programmes) for this run, timetable aside"),
         status: bool = typer.Option(False, "--status",
                                     help="do not play: report the running show's heartbeat (exit 1 if stalled)"),
         sync: str | None = typer.Option(None, "--sync", metavar="leader|follower",
                                         help="one screen of a multi-screen installation (show.sync)"),
         screen: str | None = typer.Option(None, "--screen", help="with --sync: this screen's name (show.sync.screens)")
         ) -> None:
    """Play the catalogue: fullscreen/windowed with sound, or --headless --record OUT.mp4 --seconds N."""
    st = state(ctx)
    s = st.settings
    ss = s.show
    if status:
        report_status(s.path(ss.status_file), ss.http_port, max(10.0, 5 * ss.heartbeat_seconds), as_json)
        return
    if programme is not None:
        from installation.programmes import only_programme

        ss = only_programme(ss, programme)
    if headless and record is None:
        raise BadInput("--headless needs --record OUT.mp4 (a headless show is only useful recorded)")
    if record is not None and seconds is None:
        raise BadInput("--record needs --seconds N (how long the recording is)")
    if seconds is not None and seconds <= 0:
        raise BadInput(f"--seconds must be positive, not {seconds}")
    if size is not None:
        from installation.windows import parse_size

        if width is not None or height is not None:
            raise BadInput("--size WxH replaces --width and --height: give one or the other")
        width, height = parse_size(size)
    if display is not None and display < 0:
        raise BadInput(f"--display {display}: displays are numbered from 0")
    for name, v in (("width", width), ("height", height)):
        if v is not None and not 16 <= v <= 7680:
            raise BadInput(f"--{name} {v}: use 16..7680 pixels")
    if fps is not None and not 0 < fps <= 240:
        raise BadInput(f"--fps {fps}: use a rate in (0, 240]")
    if sync is not None or screen is not None:
        from installation.sync_run import check_sync

        check_sync(ss, sync or "", screen)
    cat = st.catalogue
    cache = s.path(ss.loudness_cache) if ss.loudness_cache else None  # measured loudness of sounds
    if sync is not None:
        from installation.sync_run import run_sync

        res3 = run_sync(ss, cat, sync, screen or "", record=record, seconds=seconds, width=width, height=height,
                        fps=fps, fullscreen=ss.fullscreen if fullscreen is None else fullscreen,
                        display=ss.display if display is None else display, media=s.media,
                        status_file=s.path(ss.status_file) if screen == ss.sync.leader else
                        s.path(ss.status_file).with_name(f"status-{screen}.json"))
        summary: dict[str, Any] = {"frames": res3.frames, "seconds": round(res3.seconds, 1), **res3.status}
    elif record is not None:
        from installation.record import record_show

        res = record_show(ss, cat, record, seconds or 0, width=width, height=height, fps=fps, media=s.media,
                          loudness_cache=cache)
        summary = {"recording": str(res.path), "frames": res.frames, "seconds": res.seconds,
                                   "size": [res.width, res.height], **res.status}
    else:
        from installation.live import run_live

        full = ss.fullscreen if fullscreen is None else fullscreen
        res2 = run_live(ss, cat, status_file=s.path(ss.status_file), fullscreen=full,
                        display=ss.display if display is None else display, seconds=seconds, width=width,
                        height=height, media=s.media, loudness_cache=cache)
        summary = {"frames": res2.frames, "seconds": round(res2.seconds, 1), "quit_by": res2.quit_by, **res2.status}
    if as_json:
        typer.echo(json.dumps(summary, default=str))
    else:
        typer.echo(", ".join(f"{k}={v}" for k, v in summary.items() if k in (
            "recording", "frames", "seconds", "items_started", "skipped", "dropped_frames", "last_error", "quit_by")))


def report_status(path: Path, port: int, stale_after: float, as_json: bool) -> None:
    """The heartbeat of a running show, from its status file (and its HTTP endpoint when it answers)."""
    import time
    import urllib.request

    from gallery.errors import GalleryError

    if not path.is_file():
        raise GalleryError(f"no status file at {path}: the show is not running (or never ran with this config)")
    try:
        st = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise GalleryError(f"status file {path} is unreadable: {e}") from e
    age = time.time() - path.stat().st_mtime
    st["status_file_age_s"] = round(age, 1)
    if port:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                st["http"] = json.loads(r.read())
        except Exception as e:  # noqa: BLE001 - not answering: reported, the file decides
            st["http"] = f"no answer on 127.0.0.1:{port} ({type(e).__name__})"
    if as_json:
        typer.echo(json.dumps(st, default=str))
    else:
        item = st.get("item") or {}
        typer.echo(f"{st.get('state')}: {item.get('kind', '-')} #{item.get('artwork_id', '-')} {item.get('title', '')!r}; "
                   f"fps {st.get('fps')}, dropped {st.get('dropped_frames')}, memory {st.get('memory_mb')} MB, "
                   f"temperature {st.get('temperature_c')}, last error: {st.get('last_error')}; "
                   f"heartbeat {age:.0f} s ago")
    if age > stale_after:
        raise GalleryError(f"the show's heartbeat is {age:.0f} s old (more than {stale_after:.0f} s): it has stalled "
                           "or stopped")
