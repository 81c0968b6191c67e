"""A window's programme: its slots (deterministic: the window seed, the occurrence and the slot
number), each slot's job spec, and the programme in miniature (`gallery schedule once` previews)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gallery.errors import BadInput
from generator.schedule.settings import JobEntry, Window

if TYPE_CHECKING:
    from gallery.config import Settings


# ---- the programme --------------------------------------------------------------------------------
@dataclass
class Slot:
    index: int
    entry: JobEntry
    seed: int
    prompt: str | None = None


def counted_order(window: Window) -> list[JobEntry]:
    """Counted entries interleaved round-robin (walk, soundscape, walk, soundscape, …)."""
    counted = [e for e in window.jobs if e.count is not None]
    out: list[JobEntry] = []
    rounds = max((e.count or 0 for e in counted), default=0)
    for r in range(rounds):
        out.extend(e for e in counted if (e.count or 0) > r)
    return out


def plan_slot(window: Window, occurrence: str, index: int, _counted: list[JobEntry] | None = None) -> Slot | None:
    """The job of slot ``index`` of one occurrence of a window (deterministic), or None when the programme ends."""
    counted = counted_order(window) if _counted is None else _counted
    if window.max_jobs is not None and index >= window.max_jobs:
        return None
    rng = random.Random(f"{window.seed}:{window.name}:{occurrence}:{index}")
    if index < len(counted):
        entry = counted[index]
    else:
        weighted = [e for e in window.jobs if e.effective_weight > 0]
        if not weighted:
            return None
        entry = rng.choices(weighted, weights=[e.effective_weight for e in weighted])[0]
    seed = entry.seed if entry.seed is not None else rng.randrange(2**31)
    prompt = None
    if entry.prompts:
        prompt = rng.choice(entry.prompts)
    elif entry.prompt_templates:
        template = rng.choice(entry.prompt_templates)
        words = {k: rng.choice(v) for k, v in sorted(entry.vocabulary.items())}
        prompt = template.format(**words)
    return Slot(index=index, entry=entry, seed=seed, prompt=prompt)


def job_spec(slot: Slot, pair_with: int | None = None) -> dict[str, Any]:
    params = dict(slot.entry.params)
    if slot.prompt is not None:
        params[slot.entry.prompt_param] = slot.prompt
    if pair_with is not None:
        params[slot.entry.pair_param] = pair_with
    return {"kind": slot.entry.kind, "params": params, "seed": slot.seed, "title": None}


# ---- a compressed programme (`gallery schedule once` previews) ---------------------------------------
@dataclass(frozen=True)
class Compression:
    """A window's programme in miniature: the same entries, kinds, pairing and order, with fewer jobs
    and smaller works, so a whole night's programme can be tried in minutes."""

    rounds: int = 1  # each counted entry runs at most this many times; weighted entries: this many draws each
    seconds: float = 4.0  # walks, soundscapes and other time-based works at most this long
    size: int = 64  # pictures at most this many pixels a side
    count: int = 2  # works per job (images, melodies) at most this many
    iterations: int = 20  # optimisation steps (VQGAN+CLIP) at most this many
    fps: int = 8  # frames per second of videos at most this many

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.seconds <= 0 or self.size < 16 or self.count < 1 or self.iterations < 1 \
                or self.fps < 1:
            raise BadInput(f"compression {self}: rounds, count, iterations, fps >= 1, seconds > 0, size >= 16")

    def caps(self) -> dict[str, float]:
        return {"seconds": self.seconds, "duration": self.seconds, "seconds_per_keyframe": self.seconds / 2,
                "size": self.size, "width": self.size,
                "height": self.size, "count": self.count, "iterations": self.iterations, "fps": self.fps}


def _cap(value: Any, limit: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value  # not a number: the job says what is wrong with it
    return min(value, int(limit)) if isinstance(value, int) else min(float(value), float(limit))


def compress_params(params: dict[str, Any], comp: Compression) -> dict[str, Any]:
    """A job's params with its lengths, sizes, counts and steps capped (other params as they are)."""
    caps = comp.caps()
    return {k: _cap(v, caps[k]) if k in caps else v for k, v in params.items()}


def compress_window(window: Window, comp: Compression) -> Window:
    """The window's programme in miniature: counted entries ``comp.rounds`` times each (still interleaved,
    so each sound pairs with the visual just before it), then ``comp.rounds`` draws per weighted entry."""
    jobs = []
    for e in window.jobs:
        d = e.model_dump()
        d["params"] = compress_params(e.params, comp)
        if e.count is not None:
            d["count"] = min(e.count, comp.rounds)
        jobs.append(d)
    data = window.model_dump()
    data["jobs"] = jobs
    counted = sum(min(e.count, comp.rounds) for e in window.jobs if e.count is not None)
    weighted = sum(1 for e in window.jobs if e.count is None)
    limit = counted + comp.rounds * weighted
    data["max_jobs"] = min(limit, window.max_jobs) if window.max_jobs is not None else limit
    return Window.model_validate(data)


def compress_settings(settings: Settings, comp: Compression) -> Settings:
    """Settings whose defaults make small works: the lengths, sizes and steps that jobs fall back on."""
    data = settings.model_dump(mode="json")
    sg = data.get("stylegan") or {}
    if sg:
        sg["walk_seconds"] = min(sg["walk_seconds"], comp.seconds)
        sg["seconds_per_keyframe"] = min(sg["seconds_per_keyframe"], comp.seconds / 2)
        sg["fps"] = min(sg["fps"], comp.fps)
        sg["render_size"] = comp.size if not sg["render_size"] else min(sg["render_size"], comp.size)
    vq = data.get("vqclip") or {}
    if vq:
        old = vq["iterations"]
        vq["iterations"] = min(old, comp.iterations)
        vq["snapshots"] = sorted({round(v * vq["iterations"] / old) for v in vq["snapshots"]})
        vq["size"] = min(vq["size"], comp.size)
        vq["fps"] = min(vq["fps"], comp.fps)
    if data.get("lts"):
        data["lts"]["duration"] = min(data["lts"]["duration"], comp.seconds)
    return type(settings).model_validate(data)


def describe_window(window: Window) -> str:
    """One line: what a window's programme does (its counted jobs, weighted entries, bounds)."""
    counted = [e for e in window.jobs if e.count is not None]
    weighted = [e for e in window.jobs if e.count is None]
    parts = []
    if counted:
        parts.append(f"{sum(e.count or 0 for e in counted)} counted jobs (" + ", ".join(
            f"{e.count} x {e.label}{_what_params(e)}" for e in counted) + ")")
    if weighted:
        parts.append("then draws of " + ", ".join(f"{e.label}{_what_params(e)}" for e in weighted))
    limit = f"at most {window.max_jobs} jobs" if window.max_jobs is not None else "no job limit"
    return "; ".join(parts) + f"; {limit}"


def _what_params(e: JobEntry) -> str:
    shown = {k: v for k, v in e.params.items() if k in ("seconds", "duration", "size", "count", "iterations")}
    return f" {shown}" if shown else ""
