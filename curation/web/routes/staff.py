"""The staff page (/staff): a phone-sized remote for the running show.

The web app talks to the show's control API server-side (``curation.show_url``, default
http://127.0.0.1:<show.http_port>; the token named by ``show.token_env`` from the environment), so a
phone needs only the web app. Each button is a form with the page's CSRF token; the status block
polls ``/staff/status.json``. When the show does not answer, the page says so (never a 500).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from curation.web.deps import CsrfForm, State
from curation.web.pages import page
from gallery.errors import BadInput

router = APIRouter()
COMMANDS = ("next", "previous", "pause", "resume", "reload", "programme")
TIMEOUT_S = 8.0  # a skip is answered when its new work is on screen (the show waits up to 4 s)


class ShowLink:
    """The show's control API as the web app's server reaches it."""

    def __init__(self, settings: Any) -> None:
        port = getattr(settings.show, "http_port", 0)
        self.url = settings.curation.show_url or (f"http://127.0.0.1:{port}" if port else None)
        env = getattr(settings.show, "token_env", None)
        self.token = os.environ.get(env) if env else None

    def call(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """(HTTP code, JSON answer); code 0 when the show does not answer at all."""
        if self.url is None:
            return 0, {"error": "the show's HTTP endpoint is off (show.http_port: 0)"}
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
                return r.status, _json(r.read())
        except urllib.error.HTTPError as e:
            return e.code, _json(e.read())
        except (OSError, ValueError) as e:  # refused, unreachable, timed out
            reason = getattr(e, "reason", None) or e
            return 0, {"error": f"the show is not running (no answer at {self.url}: {reason})"}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        v = json.loads(raw or b"{}")
    except ValueError:
        return {"error": "the show answered something that is not JSON"}
    return v if isinstance(v, dict) else {"error": "unexpected answer from the show"}


def view(code: int, st: dict[str, Any]) -> dict[str, Any]:
    """What the page shows of a status answer."""
    running = code in (200, 202)
    item = st.get("incoming") or st.get("item") or {}
    return {"running": running, "code": code, "error": None if running else st.get("error", f"HTTP {code}"),
            "state": st.get("state"), "paused": bool(st.get("paused")), "item": item,
            "programme": st.get("programme"), "programmes": st.get("programmes") or [],
            "time_left_s": st.get("time_left_s"), "skipped_items": (st.get("skipped_items") or [])[-5:],
            "heartbeat_age_s": st.get("heartbeat_age_s"), "last_error": st.get("last_error"),
            "screens": screens(st)}


def screens(st: dict[str, Any]) -> list[dict[str, Any]]:
    """Every screen of a multi-screen installation (the leader's status lists them; docs/show.md)."""
    out = []
    for s in st.get("screens") or []:
        if not isinstance(s, dict):
            continue
        out.append({"screen": str(s.get("screen", "?")), "role": s.get("role"), "lost": bool(s.get("lost")),
                    "offset_ms": s.get("offset_ms"), "artwork_id": s.get("artwork_id"),
                    "seen_s_ago": s.get("seen_s_ago"), "late_frames": s.get("late_frames")})
    return out


@router.get("/staff", response_class=HTMLResponse)
def staff_page(request: Request, st: State) -> HTMLResponse:
    link = ShowLink(st.settings)
    code, status = link.call("/api/v1/status")
    return page(request, "staff.html", show=view(code, status), show_url=link.url,
                note=request.query_params.get("note"))


@router.get("/staff/status.json")
def staff_status(st: State) -> JSONResponse:
    code, status = ShowLink(st.settings).call("/api/v1/status")
    return JSONResponse(view(code, status), headers={"Cache-Control": "no-store"})


@router.post("/staff")
async def staff_command(st: State, f: CsrfForm) -> Response:
    import anyio

    cmd = str(f.get("command") or "")
    if cmd not in COMMANDS:
        raise BadInput(f"command {cmd[:40]!r}: one of {', '.join(COMMANDS)}")
    body: dict[str, Any] = {}
    if cmd == "programme":
        name = str(f.get("name") or "").strip()
        body = {"name": name or None}  # empty: back to the timetable
    link = ShowLink(st.settings)
    code, ans = await anyio.to_thread.run_sync(link.call, f"/api/v1/{cmd}", body)
    if code == 200:
        note = {"next": "next work", "previous": "previous work", "pause": "paused", "resume": "playing",
                "reload": "works re-read", "programme": f"programme: {body.get('name') or 'timetable'}"}[cmd]
        if ans.get("note"):
            note += f" ({ans['note']})"
    elif code == 202:
        note = f"{cmd}: sent; the show will change at its next item"
    else:
        note = f"{cmd} failed: {ans.get('error') or f'HTTP {code}'}"
    return RedirectResponse("/staff?" + urlencode({"note": note}), status_code=303)
