"""The shared clock of a multi-screen installation: NTP-style offset estimation and the wire format.

A follower sends ``t0`` (its clock), the leader notes ``t1`` when the request arrives and ``t2`` when it
answers, the follower notes ``t3`` when the answer arrives. Then (as in NTP, RFC 5905 section 8)
    offset = ((t1 - t0) + (t2 - t3)) / 2      the leader's clock minus ours
    delay  = (t3 - t0) - (t2 - t1)            the round trip on the wire
An exchange whose delay is long (a queue, a retransmit, a busy process) carries a large error (at most
delay / 2), so such exchanges are thrown away; the offset is the median of the last ``window`` kept ones.
A step in the clock (an injected skew, a clock set by hand) is followed within ``STEP_AGREE`` exchanges.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

SKEW_ENV = "GALLERY_SYNC_SKEW_MS"  # tests: added to this node's clock, ms (the config's sync.skew_ms too)
SKEW_AFTER_ENV = "GALLERY_SYNC_SKEW_AFTER_S"  # tests: the skew starts this many seconds after the clock does
STEP_AGREE = 3  # this many kept exchanges in a row agreeing with each other, far from the median: a clock step
STEP_S = 0.02  # "far": more than this many seconds


class NodeClock:
    """This machine's wall clock (time.time), plus an injected skew for tests."""

    def __init__(self, skew_ms: float = 0.0, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.skew = (skew_ms + float(env.get(SKEW_ENV, "0") or 0)) / 1000.0
        self.skew_after = float(env.get(SKEW_AFTER_ENV, "0") or 0)
        self._started = time.monotonic()

    def now(self) -> float:
        if self.skew_after and time.monotonic() - self._started < self.skew_after:
            return time.time()
        return time.time() + self.skew


def exchange(t0: float, t1: float, t2: float, t3: float) -> tuple[float, float]:
    """(offset, delay) of one exchange: the server's clock minus ours, and the round trip."""
    return ((t1 - t0) + (t2 - t3)) / 2.0, (t3 - t0) - (t2 - t1)


class OffsetFilter:
    """Median of the last ``window`` exchanges whose delay is under ``max_delay`` and under 3x the least
    delay seen in the window (so a slow path is not trusted however the limit is set)."""

    def __init__(self, window: int = 15, max_delay: float = 0.05) -> None:
        self.window = window
        self.max_delay = max_delay
        self.samples: deque[tuple[float, float]] = deque(maxlen=window)  # (offset, delay)
        self.rejected = 0
        self.accepted = 0
        self.steps = 0
        self._recent: deque[float] = deque(maxlen=STEP_AGREE)

    def add(self, offset: float, delay: float) -> bool:
        floor = min((d for _, d in self.samples), default=delay)
        if delay < 0 or delay > self.max_delay or (len(self.samples) >= 3 and delay > max(3 * floor, 0.002)):
            self.rejected += 1
            return False
        self.accepted += 1
        self.samples.append((offset, delay))
        self._recent.append(offset)
        med = self.offset
        if (med is not None and len(self._recent) == STEP_AGREE
                and all(abs(o - med) > STEP_S for o in self._recent)
                and max(self._recent) - min(self._recent) < STEP_S):
            # a step: the whole window is stale; keep only the agreeing recent exchanges
            self.steps += 1
            kept = list(self.samples)[-STEP_AGREE:]
            self.samples.clear()
            self.samples.extend(kept)
        return True

    @property
    def offset(self) -> float | None:
        if not self.samples:
            return None
        return float(statistics.median(o for o, _ in self.samples))

    @property
    def delay(self) -> float | None:
        return float(statistics.median(d for _, d in self.samples)) if self.samples else None

    def reset(self) -> None:
        self.samples.clear()
        self._recent.clear()


@dataclass
class Timeline:
    """What every screen plays: the programme, its version (change id) and the shared time it counts from,
    and a change announced to apply at shared time ``change_at`` (every screen switches at the same frame)."""

    epoch: float
    programme: str
    version: str
    change_at: float | None = None
    change_programme: str | None = None
    change_version: str | None = None

    def at(self, t: float) -> tuple[float, str, str]:
        """(epoch, programme, version) in force at shared time t."""
        if self.change_at is not None and t >= self.change_at:
            return self.change_at, self.change_programme or self.programme, self.change_version or self.version
        return self.epoch, self.programme, self.version

    def settle(self, t: float) -> None:
        """A change whose time has come becomes the timeline itself."""
        if self.change_at is not None and t >= self.change_at:
            self.epoch, self.programme, self.version = self.at(t)
            self.change_at = self.change_programme = self.change_version = None

    def to_wire(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "programme": self.programme, "version": self.version,
                "change_at": self.change_at, "change_programme": self.change_programme,
                "change_version": self.change_version}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> Timeline:
        return cls(float(d["epoch"]), str(d["programme"]), str(d["version"]),
                   None if d.get("change_at") is None else float(d["change_at"]),
                   d.get("change_programme"), d.get("change_version"))


MAX_DATAGRAM = 8192


def encode(msg: dict[str, Any]) -> bytes:
    data = json.dumps(msg, separators=(",", ":"), default=str).encode()
    if len(data) > MAX_DATAGRAM:
        raise ValueError(f"sync message of {len(data)} bytes (at most {MAX_DATAGRAM})")
    return data


def decode(data: bytes) -> dict[str, Any] | None:
    """A message, or None for anything that is not one (a stray datagram must not stop a show)."""
    try:
        msg = json.loads(data.decode())
    except (UnicodeDecodeError, ValueError):
        return None
    return msg if isinstance(msg, dict) and msg.get("v") == 1 else None
