"""`gallery schedule run|list|once|thin` and `gallery runs [--failed] [--json]`."""

from __future__ import annotations

import json
import signal
import threading
from datetime import datetime
from typing import Any

import typer

from gallery.errors import BadInput
from gallery.state import state

schedule_app = typer.Typer(no_args_is_help=True, help="The overnight scheduler: windows of generation.")


def register(app: typer.Typer, **_: Any) -> None:
    app.add_typer(schedule_app, name="schedule")
    app.command("runs")(runs)


@schedule_app.command("run")
def run(ctx: typer.Context) -> None:
    """The daemon: fire each configured window, run its jobs in worker subprocesses (stop: SIGTERM/Ctrl-C)."""
    from generator.schedule.daemon import run_daemon

    st = state(ctx)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    run_daemon(st.settings, stop=stop)


@schedule_app.command("list")
def list_(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
          count: int = typer.Option(3, "--count", "-n", min=1, max=100, help="next fire times per window")) -> None:
    """The windows, their programmes and next fire times (and what the daemon's job store holds)."""
    from generator.schedule.calendar import SystemClock, next_occurrences, zone
    from generator.schedule.daemon import stored_jobs
    from generator.schedule.plan import counted_order
    from generator.schedule.windows import queued_runs

    st = state(ctx)
    sched = st.settings.schedule
    tz = zone(sched)
    now = SystemClock(tz).now()
    out = []
    for w in sched.windows:
        out.append({
            "window": w.name, "minutes": w.minutes, "max_jobs": w.max_jobs,
            "next": [[a.isoformat(timespec="minutes"), b.isoformat(timespec="minutes")]
                     for a, b in next_occurrences(w, now, tz, count)],
            "counted_jobs": len(counted_order(w)),
            "queued_runs": [rid for rid, _ in queued_runs(st.catalogue, w.name)],
            "jobs": [{"kind": e.kind, "name": e.label, "count": e.count,
                      "weight": e.effective_weight if e.count is None else None} for e in w.jobs],
        })
    stored = stored_jobs(st.settings, st.catalogue)
    if as_json:
        typer.echo(json.dumps({"timezone": str(tz), "windows": out, "stored_jobs": stored}, indent=2))
        return
    if not out:
        typer.echo("no windows configured (schedule.windows in config.yaml)")
    for w in out:
        typer.echo(f"{w['window']}: {w['minutes']:.0f} min, {len(w['jobs'])} entries "
                   f"({w['counted_jobs']} counted jobs{', max ' + str(w['max_jobs']) if w['max_jobs'] else ''})")
        for a, b in w["next"]:
            typer.echo(f"  next {a} -> {b}")
        if w["queued_runs"]:
            typer.echo(f"  queued runs first (curation, oldest first): {w['queued_runs']}")
        for j in w["jobs"]:
            how = f"x{j['count']}" if j["count"] else f"weight {j['weight']:g}"
            typer.echo(f"  - {j['name']} ({j['kind']}) {how}")
    if stored:
        typer.echo("job store (daemon):")
        for j in stored:
            typer.echo(f"  {j['id']}: next run {j['next_run_time']}")


PREVIEW_MINUTES = 15.0  # a bare `gallery schedule once` (the programme in miniature) stops by then at the latest


@schedule_app.command("once")
def once(ctx: typer.Context,
         window: str | None = typer.Option(None, "--window", "-w", help="window name (default: the first)"),
         minutes: float | None = typer.Option(None, "--minutes", "-m", min=0.05,
                                              help="run the programme as configured for this long"),
         full: bool = typer.Option(False, "--full", help="run the whole window as configured, for its full length"),
         rounds: int | None = typer.Option(None, "--rounds", "-r", min=1, max=1000,
                                           help="the programme in miniature: each counted entry this many times, "
                                                "short walks and sounds, small pictures (the default, with 1)"),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Run one window's programme now, each job in a worker subprocess.

    By default in miniature (--rounds 1: every entry of the programme once, walks and sounds at most
    4 s, pictures at most 64 px; at most 15 minutes); --minutes M runs it as configured for M minutes;
    --full runs the whole window as configured (hours)."""
    from generator.schedule.plan import Compression, compress_window, describe_window
    from generator.schedule.windows import once_window, run_once

    st = state(ctx)
    if full and (minutes is not None or rounds is not None):
        raise BadInput("--full runs the whole window as configured: give it without --minutes or --rounds")
    w = once_window(st.settings, window)
    comp = None
    if full:
        mode = "full"
        plan = (f"window {w.name} as configured, for its full length ({w.minutes:.0f} min; SIGTERM stops it): "
                f"{describe_window(w)}")
    elif minutes is not None and rounds is None:
        mode = "minutes"
        plan = f"window {w.name} as configured, for at most {minutes:g} min: {describe_window(w)}"
    else:
        mode = "preview"
        comp = Compression(rounds=rounds or 1)
        if minutes is None:
            minutes = min(PREVIEW_MINUTES, w.minutes)
        plan = (f"window {w.name} in miniature, for at most {minutes:g} min: {describe_window(compress_window(w, comp))}; "
                f"walks and sounds at most {comp.seconds:g} s, pictures at most {comp.size} px\n"
                f"(as configured, {w.minutes:.0f} min: {describe_window(w)}; --full runs all of it now, "
                "--minutes M runs it as configured for M minutes)")
    typer.echo(plan, err=as_json)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    rep = run_once(st.settings, st.catalogue, w.name, minutes, stop=stop, compress=comp)
    summ = rep.summary()
    failed = [o.run_id for o in rep.outcomes if o.state in FAILED_STATES]
    counts = {"done": summ["states"].get("done", 0), "failed": len(failed),
              "skipped": summ["states"].get("skipped", 0)}
    if as_json:
        summ.update(mode=mode, **counts)
        summ["runs"] = [{"run": o.run_id, "state": o.state, "artworks": o.artwork_ids, "wall_s": round(o.wall_s, 2),
                         "error": o.error} for o in rep.outcomes]
        typer.echo(json.dumps(summ, indent=2))
        return
    for o in rep.outcomes:
        err = f"  {o.error.splitlines()[0]}" if o.error else ""
        typer.echo(f"run {o.run_id}: {o.state} in {o.wall_s:.1f}s, artworks {o.artwork_ids}{err}")
    typer.echo(f"window {summ['window']} ({mode}): {summ['jobs']} runs: {counts['done']} done, {counts['failed']} "
               f"failed, {counts['skipped']} skipped; {summ['artworks']} artworks; stopped: {summ['stopped_by']}")
    if failed:
        typer.echo(f"failed runs: {', '.join(map(str, failed))} (why: gallery runs --failed)")


FAILED_STATES = ("failed", "failed-interrupted", "timed-out")


@schedule_app.command("thin")
def thin(ctx: typer.Context, dry_run: bool = typer.Option(True, "--dry-run/--apply",
                                                           help="only list (default) or remove")) -> None:
    """Apply the retention policy now (schedule.retention): keep rated, collected and minted works."""
    from generator.schedule.retention import apply_retention

    st = state(ctx)
    ids = apply_retention(st.settings, st.catalogue, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    typer.echo(f"{verb} {len(ids)} artworks{': ' + ', '.join(map(str, ids[:50])) if ids else ''}"
               f"{' …' if len(ids) > 50 else ''}")


def _run_dict(r: Any) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat(timespec="seconds") if t else None

    dur = (r.ended - r.started).total_seconds() if r.started and r.ended else None
    return {"id": r.id, "window": r.window, "kind": r.job_kind, "entry": (r.spec or {}).get("entry"),
            "state": r.state, "created": iso(r.created), "started": iso(r.started), "ended": iso(r.ended),
            "seconds": round(dur, 2) if dur is not None else None, "artwork_ids": r.artwork_ids or [],
            "error": r.error, "spec": (r.spec or {}).get("job"), "host": r.host, "pid": r.pid,
            "occurrence": (r.extra or {}).get("occurrence"), "exit_code": (r.extra or {}).get("exit_code"),
            "peak_rss_mb": (r.extra or {}).get("peak_rss_mb"), "worker": (r.extra or {}).get("worker"),
            "log": (r.extra or {}).get("log")}


def runs(ctx: typer.Context,
         failed: bool = typer.Option(False, "--failed", help="only runs that did not finish: failed, "
                                     "failed-interrupted, timed-out, skipped"),
         window: str | None = typer.Option(None, "--window", "-w"),
         limit: int = typer.Option(50, "--limit", "-n", min=1, max=100_000),
         as_json: bool = typer.Option(False, "--json")) -> None:
    """Generation runs, newest first: spec, state, times, error, artworks produced."""
    from sqlalchemy import select

    from catalogue.models import Run
    from generator.schedule.windows import NOT_DONE_STATES

    st = state(ctx)
    q = select(Run)
    if failed:
        q = q.where(Run.state.in_(NOT_DONE_STATES))
    if window:
        q = q.where(Run.window == window)
    with st.catalogue.read() as s:
        rows = [_run_dict(r) for r in s.scalars(q.order_by(Run.id.desc()).limit(limit))]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no runs")
    for r in rows:
        secs = f"{r['seconds']:.1f}s" if r["seconds"] is not None else "-"
        err = f"  {r['error'].splitlines()[0][:100]}" if r["error"] else ""
        typer.echo(f"{r['id']:>6} {r['state']:<18} {r['window'] or '-':<12} {r['entry'] or r['kind']:<22} "
                   f"{r['started'] or r['created']} {secs:>8} art={len(r['artwork_ids'])}{err}")
