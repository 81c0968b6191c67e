"""The show's heartbeat: a status file, a small HTTP endpoint (127.0.0.1 unless show.control_host
says otherwise), and systemd's watchdog.

GET /status (or /) gives the JSON status; /health gives 200 while the heartbeat is fresh, 503 when the
render loop has stalled (so a probe can tell a frozen show from a running one). The same endpoint
answers the control API (/api/v1/..., see installation.api).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def memory_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6


def temperature_c() -> float | None:
    """The hottest readable sensor (CPU / GPU), or None where the machine exposes none."""
    best: float | None = None
    try:
        import psutil

        for entries in (psutil.sensors_temperatures() or {}).values():
            for e in entries:
                if e.current and (best is None or e.current > best):
                    best = float(e.current)
    except (AttributeError, OSError):
        pass
    if best is None:
        for zone in Path("/sys/class/thermal").glob("thermal_zone*/temp"):
            try:
                v = int(zone.read_text().strip()) / 1000
            except (OSError, ValueError):
                continue
            best = v if best is None else max(best, v)
    return best


def sd_notify(message: str) -> bool:
    """Tell systemd (Type=notify, WatchdogSec) we are alive; a no-op outside systemd."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(addr)
            s.sendall(message.encode())
        return True
    except OSError as e:
        log.debug("sd_notify failed: %s", e)
        return False


class Heartbeat:
    def __init__(self, status_file: Path | None, port: int = 0, stale_after: float = 10.0, *,
                 host: str = "127.0.0.1", token: str | None = None) -> None:
        self.status_file = status_file
        self.host = host
        self.token = token  # needed by clients beyond loopback (installation.api)
        self.control: Any = None  # the Dispatcher of the render loop, once it runs
        self.stale_after = stale_after
        self._status: dict[str, Any] = {"state": "starting"}
        self._beat = time.monotonic()
        self._lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if port:
            self._serve(port)
        sd_notify("READY=1")

    @property
    def port(self) -> int | None:
        return self.server.server_address[1] if self.server else None

    def _serve(self, port: int) -> None:
        from installation.api import make_handler

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(ThreadingHTTPServer):
            address_family = family
            daemon_threads = True

        try:
            self.server = Server((self.host, port), make_handler(self))
        except OSError as e:
            log.warning("heartbeat endpoint on %s:%d unavailable (%s); status file only", self.host, port, e)
            return
        self._thread = threading.Thread(target=self.server.serve_forever, name="heartbeat-http", daemon=True)
        self._thread.start()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            st = dict(self._status)
            age = time.monotonic() - self._beat
        st["heartbeat_age_s"] = round(age, 2)
        st["stalled"] = age > self.stale_after
        return st

    def beat(self, status: dict[str, Any]) -> None:
        status = {**status, "memory_mb": round(memory_mb(), 1), "temperature_c": temperature_c(),
                  "pid": os.getpid(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        with self._lock:
            self._status = status
            self._beat = time.monotonic()
        if self.status_file is not None:
            try:
                self.status_file.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.status_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(status, indent=1, default=str))
                os.replace(tmp, self.status_file)
            except OSError as e:
                log.warning("cannot write status file %s: %s", self.status_file, e)
        sd_notify("WATCHDOG=1")

    def close(self) -> None:
        sd_notify("STOPPING=1")
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
