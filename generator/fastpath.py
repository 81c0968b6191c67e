"""Per-machine choice of a fast path, measured once and cached (like cuDNN's benchmark mode).

A code path that wins on one processor can lose on another (the VQGAN decoder's channels-last
layout, the recomputed decoder levels, StyleGAN's shared-convolution modulation at batch 1: see
docs/performance.md). ``choose(name, size_key, variants)`` times each variant a few times on the
requested size, interleaved (the order alternates every round, so drifting load from other
processes hits every variant alike), takes the median of each, and keeps the fastest, unless the
default is within ``prefer_within`` of it (a tie keeps the default). The answer is cached per
machine (:func:`gallery.machine.machine_key`: CPU model, torch kernels, torch version, threads; the
GPU name on CUDA) and per ``name``/``size_key`` in a small JSON file, which the jobs put in
``data_dir`` (``configure(settings)``); without it the cache lives in this process only.

A configuration can force a choice (``"on"``/``"off"``, or any variant's name) instead of
``"auto"``. A cache file that cannot be read or parsed is ignored with a warning and rewritten.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gallery.machine import machine_key

log = logging.getLogger(__name__)

CACHE_NAME = "cache/fastpath.json"  # under data_dir
FORCE_CHOICES = ("auto", "on", "off")
CALIBRATION_BUDGET_S = 1.5  # stop adding reps after this much timing (at least MIN_REPS each)
MIN_REPS, MAX_REPS = 3, 7

_lock = threading.Lock()
_cache_file: Path | None = None
_memory: dict[str, dict[str, Any]] = {}  # key -> record, this process (always consulted first)


def configure(target: Any = None) -> Path | None:
    """Where the cache lives: a Settings object (``data_dir/cache/fastpath.json``), a path, or None
    (this process only). Returns the file."""
    global _cache_file
    if target is None:
        path = None
    elif isinstance(target, (str, Path)):
        path = Path(target)
    else:
        path = Path(target.path(CACHE_NAME))
    with _lock:
        if path != _cache_file:
            _memory.clear()
        _cache_file = path
    return path


def cache_file() -> Path | None:
    return _cache_file


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as e:
        log.warning("fast-path cache %s cannot be read (%s): ignored, measuring again", path, e)
        return {}
    try:
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("choices", {}), dict):
            raise ValueError("not a {'choices': {...}} object")
        return {k: v for k, v in data.get("choices", {}).items() if isinstance(v, dict) and "choice" in v}
    except ValueError as e:
        log.warning("fast-path cache %s is corrupted (%s): ignored, measuring again", path, e)
        return {}


def _write(path: Path, choices: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fastpath.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump({"version": 1, "choices": choices}, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)  # whole file or nothing
    except OSError as e:
        log.warning("fast-path cache %s cannot be written (%s): the choice holds for this process only", path, e)


def cache_key(name: str, size_key: str, device: Any = None) -> str:
    return f"{machine_key(device)}|{name}|{size_key}"


def measure(variants: dict[str, Callable[[], Any]], sync: Callable[[], None] | None = None,
            budget_s: float = CALIBRATION_BUDGET_S) -> dict[str, float]:
    """Median seconds of each variant: one warm-up each, then rounds that alternate the order,
    at least MIN_REPS and at most MAX_REPS rounds, stopping once ``budget_s`` has been spent."""
    names = list(variants)
    for n in names:  # warm-up: allocator, oneDNN primitive caches, cuDNN autotune
        variants[n]()
    if sync:
        sync()
    times: dict[str, list[float]] = {n: [] for n in names}
    spent = 0.0
    for r in range(MAX_REPS):
        for n in names if r % 2 == 0 else names[::-1]:
            t = time.perf_counter()
            variants[n]()
            if sync:
                sync()
            dt = time.perf_counter() - t
            times[n].append(dt)
            spent += dt
        if r + 1 >= MIN_REPS and spent >= budget_s:
            break
    return {n: statistics.median(v) for n, v in times.items()}


def pick(medians: dict[str, float], default: str, prefer_within: float) -> str:
    """The fastest variant, unless the default is within ``prefer_within`` (a fraction) of it."""
    best = min(medians, key=medians.__getitem__)
    if default in medians and medians[default] <= medians[best] * (1 + prefer_within):
        return default
    return best


def choose(name: str, size_key: str, variants: dict[str, Callable[[], Any]], *, default: str,
           force: str = "auto", device: Any = None, prefer_within: float = 0.03,
           sync: Callable[[], None] | None = None) -> str:
    """The variant to use for ``name`` at ``size_key`` on this machine: forced, cached, or measured now."""
    if force != "auto":
        if force not in variants:
            from gallery.errors import BadInput

            raise BadInput(f"fast path {name}: {force!r} is not one of auto, {', '.join(variants)}")
        return force
    key = cache_key(name, size_key, device)
    with _lock:
        rec = _memory.get(key)
        path = _cache_file
    if rec is None and path is not None:
        rec = _read(path).get(key)
        if rec is not None and rec.get("choice") not in variants:
            log.warning("fast-path cache %s: %s holds unknown choice %r: measuring again", path, key, rec.get("choice"))
            rec = None
    if rec is None:
        t0 = time.perf_counter()
        medians = measure(variants, sync)
        choice = pick(medians, default, prefer_within)
        rec = {"choice": choice, "median_s": {k: round(v, 6) for k, v in medians.items()},
               "calibration_s": round(time.perf_counter() - t0, 3), "load": list(os.getloadavg())[:1],
               "measured": time.strftime("%Y-%m-%dT%H:%M:%S")}
        log.info("fast path %s at %s: %s (median s %s, calibration %.2f s)", name, size_key, choice,
                 rec["median_s"], rec["calibration_s"])
        if path is not None:
            with _lock:
                data = _read(path)
                data[key] = rec
                _write(path, data)
    with _lock:
        _memory[key] = rec
    return str(rec["choice"])


def autocast(device: Any, enabled: bool = True) -> Any:
    """Mixed precision where it is safe: bf16 autocast on CUDA (the CLIP tower that guides the VQGAN
    loop, StyleGAN inference); a no-op on the CPU, whose fp32 runs stay bit-for-bit repeatable."""
    import contextlib

    import torch

    dev = torch.device(device)
    if enabled and dev.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def recorded() -> dict[str, dict[str, Any]]:
    """This process's choices (key -> record), for benches and logs."""
    with _lock:
        return dict(_memory)
