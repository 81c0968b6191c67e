"""The leader's sync service: answers clock exchanges over UDP with the timeline, and keeps every screen's
heartbeat (each exchange carries the follower's short status).

Why UDP (and not HTTP): a clock exchange is one small request and one small answer whose worth is the
time it took; UDP sends each in one datagram with no connection to set up, no Nagle delay, no handshake
after a restart and no thread per client, so the round trip is the wire's plus two syscalls. A lost
datagram is simply an exchange that did not happen (the next one comes 0.2 s later). The answer is
idempotent state (the whole timeline), so nothing needs retransmitting. The HTTP endpoint stays for
people (the control API).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from installation.sync_clock import Timeline, decode, encode

log = logging.getLogger(__name__)
SCREEN_STALE_S = 3.0  # a screen not heard from for this long is reported "lost"


class SyncServer:
    """Answers ``{"op": "sync", "t0", "screen", "status"}`` with t1, t2 and the timeline."""

    def __init__(self, name: str, address: tuple[str, int], shared: Callable[[], float], timeline: Timeline) -> None:
        self.name = name
        self.shared = shared
        self.timeline = timeline
        self.lock = threading.Lock()
        self.screens: dict[str, dict[str, Any]] = {}  # name -> {"status", "seen" (monotonic), "peer"}
        self.answered = 0
        self.sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="sync-leader", daemon=True)
        self.thread.start()
        log.info("sync: %s leads on %s:%d (programme %s, version %s)", name, *address, timeline.programme,
                 timeline.version)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            t1 = self.shared()
            msg = decode(data)
            if msg is None or msg.get("op") != "sync" or not isinstance(msg.get("t0"), int | float):
                continue
            screen = str(msg.get("screen", "?"))[:64]
            with self.lock:
                self.timeline.settle(t1)
                wire = self.timeline.to_wire()
                self.screens[screen] = {"status": msg.get("status") or {}, "seen": time.monotonic(), "peer": peer[0]}
            reply = {"v": 1, "op": "time", "t0": msg["t0"], "t1": t1, "leader": self.name, "timeline": wire}
            try:
                reply["t2"] = self.shared()
                self.sock.sendto(encode(reply), peer)
                self.answered += 1
            except OSError as e:  # the follower went away between its request and our answer
                log.debug("sync: cannot answer %s: %s", peer, e)

    def announce(self, programme: str, version: str, at: float) -> None:
        """Switch every screen to (programme, version) at shared time ``at`` (a frame from now and later)."""
        with self.lock:
            self.timeline.settle(self.shared())
            if (programme, version) == (self.timeline.programme, self.timeline.version):
                self.timeline.change_at = self.timeline.change_programme = self.timeline.change_version = None
                return
            self.timeline.change_at, self.timeline.change_programme, self.timeline.change_version = at, programme, version
        log.info("sync: programme %s (version %s) from shared time %.3f", programme, version, at)

    def snapshot(self) -> Timeline:
        with self.lock:
            return Timeline(**vars(self.timeline))

    def followers(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self.lock:
            return [{"screen": n, "seen_s_ago": round(now - s["seen"], 2), "lost": now - s["seen"] > SCREEN_STALE_S,
                     "peer": s["peer"], **s["status"]} for n, s in sorted(self.screens.items())]

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self.thread.join(timeout=2)
