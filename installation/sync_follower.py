"""A screen's place in the installation's clock: the leader serves, a follower estimates its offset, a
successor takes over when the leader goes quiet.

``SyncNode.shared()`` is the installation's time on this machine: the node's clock plus the offset to the
leader's (0 on the leader). A follower exchanges with the leader every ``exchange_seconds``; when no
answer has come for ``leader_timeout_s`` it carries on from its own clock (its last offset stays) and
asks the next address of (leader, successors...). A successor whose predecessors are all quiet starts
serving itself, with the timeline it last heard and its clock as corrected so far, so the schedule
goes on where it was.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from installation.sync_clock import NodeClock, OffsetFilter, Timeline, decode, encode, exchange
from installation.sync_leader import SyncServer
from installation.sync_settings import SyncSettings

log = logging.getLogger(__name__)


class SyncNode:
    def __init__(self, cfg: SyncSettings, screen: str, role: str, timeline: Timeline | None = None,
                 environ: dict[str, str] | None = None) -> None:
        self.cfg = cfg
        self.screen = screen
        self.clock = NodeClock(cfg.skew_ms, environ)
        self.filter = OffsetFilter(cfg.window, cfg.max_delay_ms / 1000.0)
        self.offset = 0.0
        self.lock = threading.Lock()
        self.status: dict[str, Any] = {}  # this screen's short status, sent with every exchange
        self.order = cfg.addresses()  # (name, address) of leader, successors
        self.server: SyncServer | None = None
        self.timeline: Timeline | None = None
        self.leader_name: str | None = None
        self.synced_at: float | None = None  # monotonic time of the first accepted exchange
        self.promoted_at: float | None = None
        self.switches = 0
        self.started = time.monotonic()
        self._target = 0
        self._last_answer = time.monotonic()
        self._stop = threading.Event()
        self.thread: threading.Thread | None = None
        if role == "leader":
            if timeline is None:
                raise ValueError("a leader needs its timeline")
            self._serve(timeline)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.settimeout(min(0.1, cfg.exchange_seconds))
            self.thread = threading.Thread(target=self._run, name="sync-follower", daemon=True)
            self.thread.start()

    # ---- time ---------------------------------------------------------------------------------------
    def shared(self) -> float:
        return self.clock.now() + self.offset

    @property
    def role(self) -> str:
        return "leader" if self.server is not None else "follower"

    def current(self) -> Timeline | None:
        """The timeline in force (the leader's own, or the last one heard)."""
        if self.server is not None:
            return self.server.snapshot()
        with self.lock:
            return None if self.timeline is None else Timeline(**vars(self.timeline))

    @property
    def leader_alive(self) -> bool:
        return self.server is not None or time.monotonic() - self._last_answer < self.cfg.leader_timeout_s

    # ---- leading ------------------------------------------------------------------------------------
    def _serve(self, timeline: Timeline) -> None:
        host, port = dict(self.order).get(self.screen) or self._own_address()
        self.server = SyncServer(self.screen, (host, port), self.shared, timeline)
        self.leader_name = self.screen

    def _own_address(self) -> tuple[str, int]:
        from installation.sync_settings import parse_address

        return parse_address(self.cfg.screens[self.screen].address, self.screen)

    # ---- following ----------------------------------------------------------------------------------
    def _targets(self) -> list[tuple[str, tuple[str, int]]]:
        """Who to ask: leader then successors, never ourselves (a successor asks only those before it)."""
        names = [n for n, _ in self.order]
        if self.screen in names:
            return self.order[:names.index(self.screen)]
        return self.order

    def _run(self) -> None:
        targets = self._targets()
        i_am_successor = self.screen in self.cfg.successors
        next_ex = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            if now < next_ex:
                self._stop.wait(next_ex - now)
                continue
            next_ex = now + self.cfg.exchange_seconds
            if now - self._last_answer > self.cfg.leader_timeout_s:
                if i_am_successor and (self.timeline is not None) and self._turn_to_lead(now):
                    self._promote()
                    return
                self._target = (self._target + 1) % len(targets)
                self._last_answer = now  # give the next one a whole timeout
                self.switches += 1
                self.filter.reset()
                log.warning("sync: no answer from the leader for %.1f s: asking %s", self.cfg.leader_timeout_s,
                            targets[self._target][0])
            name, addr = targets[self._target]
            self._exchange(name, addr)

    def _turn_to_lead(self, now: float) -> bool:
        """A successor leads when every screen before it was tried and is quiet (the first successor at once)."""
        return self.switches >= len(self._targets()) - 1

    def _exchange(self, name: str, addr: tuple[str, int]) -> None:
        t0 = self.clock.now()
        try:
            with self.lock:
                status = dict(self.status)
            self.sock.sendto(encode({"v": 1, "op": "sync", "t0": t0, "screen": self.screen, "status": status}), addr)
        except OSError:
            return
        deadline = time.monotonic() + min(0.5, self.cfg.exchange_seconds)
        while time.monotonic() < deadline:
            try:
                data, _ = self.sock.recvfrom(65536)
            except (TimeoutError, OSError):
                continue
            t3 = self.clock.now()
            msg = decode(data)
            if msg is None or msg.get("op") != "time" or msg.get("t0") != t0:
                continue  # a late answer to an earlier exchange: its delay is unknown to us now
            try:
                off, delay = exchange(t0, float(msg["t1"]), float(msg["t2"]), t3)
                tl = Timeline.from_wire(msg["timeline"])
            except (KeyError, TypeError, ValueError):
                return
            self._last_answer = time.monotonic()
            self.switches = 0 if name == self.order[0][0] else self.switches
            if self.filter.add(off, delay):
                self.offset = self.filter.offset or 0.0
                if self.synced_at is None:
                    self.synced_at = time.monotonic()
            with self.lock:
                self.timeline = tl
                self.leader_name = str(msg.get("leader", name))
            return

    def _promote(self) -> None:
        tl = self.current()
        assert tl is not None
        self.offset = self.offset  # the corrected clock goes on as the installation's
        self.sock.close()
        try:
            self._serve(tl)
        except OSError as e:
            log.error("sync: %s cannot take over (%s)", self.screen, e)
            return
        self.promoted_at = time.monotonic()
        log.warning("sync: the leader is quiet: %s leads now (epoch %.3f, programme %s)", self.screen, tl.epoch,
                    tl.programme)

    # ---- status -------------------------------------------------------------------------------------
    def set_status(self, status: dict[str, Any]) -> None:
        with self.lock:
            self.status = status

    def report(self) -> dict[str, Any]:
        tl = self.current()
        d = self.filter.delay
        return {"screen": self.screen, "role": self.role, "leader": self.leader_name,
                "leader_alive": self.leader_alive, "offset_ms": round(self.offset * 1000, 3),
                "delay_ms": None if d is None else round(d * 1000, 3), "exchanges": self.filter.accepted,
                "rejected": self.filter.rejected, "clock_steps": self.filter.steps,
                "programme": None if tl is None else tl.programme, "version": None if tl is None else tl.version,
                "synced_after_s": None if self.synced_at is None else round(self.synced_at - self.started, 3)}

    def close(self) -> None:
        self._stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2)
        if self.server is not None:
            self.server.close()
        elif hasattr(self, "sock"):
            self.sock.close()
