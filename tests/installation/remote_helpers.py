"""Helpers of the remote-control tests: HTTP calls, this machine's non-loopback address, and a Show with
the programme calls (switch_programme / programme_names / reload_works) recorded."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from gallery.errors import BadInput
from installation.show import Show


def call(url: str, method: str = "GET", body: object = None, token: str | None = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    if data is None and method == "POST":
        data = b""
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine outside 127.0.0.0/8 (a client from it is not localhost)."""
    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET" and not a.address.startswith("127."):
                return a.address
    return None


class ProgrammeShow(Show):
    """The real Show plus the programme calls the programmes work adds (recorded, with its error for an
    unknown name), so the control path can be tested on its own."""

    NAMES = ("day", "evening")

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.switched: list[str | None] = []
        self.reloads = 0

    def programme_names(self) -> list[str]:
        return list(self.NAMES)

    def switch_programme(self, name: str | None) -> None:
        if name is not None and name not in self.NAMES:
            raise BadInput(f"unknown programme {name!r} (known: {', '.join(self.NAMES)})")
        self.switched.append(name)

    def reload_works(self) -> None:
        self.reloads += 1
        if self.source is not None:
            self.source.next_read = 0.0

    def status(self) -> dict:
        return {**super().status(), "programme": (self.switched[-1] if self.switched else None) or "day"}
