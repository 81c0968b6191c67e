"""The show's HTTP endpoint: the heartbeat (/status, /health) and the control API (/api/v1/...).

=====================  ======  ===================================================================
path                   method  answer
=====================  ======  ===================================================================
/status, /             GET     the heartbeat status (as before)
/health                GET     200 while the render loop beats, 503 when it has stalled
/api/v1/status         GET     the status: item, programme, time left, paused, skipped items, ...
/api/v1/health         GET     as /health
/api/v1/next           POST    skip to the next work; answered once its first frame is drawn
/api/v1/previous       POST    back to the work before; answered once its first frame is drawn
/api/v1/pause          POST    pause picture and sound
/api/v1/resume         POST    resume
/api/v1/programme      POST    {"name": "evening"} switches programme at the next item; {"name": null}
                               returns to the timetable
/api/v1/reload         POST    re-read the works from the catalogue
=====================  ======  ===================================================================

A command is answered 200 with the status once applied, or 202 (``"queued": true``) when it was
applied but its effect is not on screen within :data:`DONE_WAIT_S` (a skip waiting for a transition
or for the show to open). 400 a bad body, 401 a missing or wrong token (clients beyond loopback
only), 403 a cross-site request, 404 an unknown path or programme, 405 a wrong method, 413 a body
over 4 KiB, 503 the show is not ready (starting, stalled, or no render loop took the command).
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from gallery.errors import BadInput
from gallery.tokens import bearer, is_loopback, token_matches
from installation.control import REMOTE_COMMANDS, NotAvailable

log = logging.getLogger(__name__)
API = "/api/v1"
MAX_BODY = 4096
TAKE_WAIT_S = 2.0  # a render loop that does not take a command within this is not answering (503)
DONE_WAIT_S = 4.0  # a skip not on screen within this is answered 202 (applied, waiting)
GET_PATHS = {"/", "/status", "/health", f"{API}/status", f"{API}/health"}
POST_PATHS = {f"{API}/{c}" for c in REMOTE_COMMANDS}


def live_status(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The heartbeat's last status brought up to now: time left counts down since that beat."""
    st = dict(snapshot)
    left = st.get("time_left_s")
    if isinstance(left, (int, float)) and not st.get("paused"):
        st["time_left_s"] = round(max(0.0, left - float(st.get("heartbeat_age_s") or 0.0)), 2)
    return st


def make_handler(hb: Any) -> type[BaseHTTPRequestHandler]:
    """The request handler of a Heartbeat ``hb`` (its snapshot, its ``control`` dispatcher, its token)."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "LatentGalleryShow/1"

        def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body, default=str).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _allowed(self) -> bool:
            """Loopback clients need no token; any other address needs the Bearer token (401)."""
            client = self.client_address[0]
            host = urlsplit("//" + (self.headers.get("Host") or "")).hostname or ""
            tok = hb.token
            authed = bool(tok) and token_matches(bearer(self.headers.get("Authorization")), tok)
            if not is_loopback(client):
                if not authed:
                    log.warning("control API: %s %s from %s refused (%s token)", self.command,
                                urlsplit(self.path).path[:80], client,
                                "wrong" if self.headers.get("Authorization") else "no")
                    self._send(401, {"error": "this address needs the show's access token "
                                              "(Authorization: Bearer ..., see show.token_env)"},
                               {"WWW-Authenticate": 'Bearer realm="latent-gallery-show"'})
                    return False
                return True
            if host and not is_loopback(host) and not authed:  # a DNS-rebinding page on this machine
                self._send(421, {"error": f"host {host!r} is not served without a token; use 127.0.0.1"})
                return False
            origin = self.headers.get("Origin")
            if self.command == "POST" and origin and origin != "null" and urlsplit(origin).netloc != (
                    self.headers.get("Host") or ""):
                self._send(403, {"error": "cross-site request refused (Origin is not this address)"})
                return False
            if self.command == "POST" and origin == "null":
                self._send(403, {"error": "cross-site request refused (Origin null)"})
                return False
            return True

        def _route(self, method: str) -> str | None:
            path = urlsplit(self.path).path
            if path.endswith("/") and path != "/":
                path = path.rstrip("/")
            if path in GET_PATHS or path in POST_PATHS:
                if not ((method == "GET" and path in GET_PATHS) or (method == "POST" and path in POST_PATHS)):
                    self._send(405, {"error": f"{path} takes {'GET' if path in GET_PATHS else 'POST'}, "
                                              f"not {method}"},
                               {"Allow": "GET" if path in GET_PATHS else "POST"})
                    return None
                return path
            self._send(404, {"error": f"no such path {path[:100]}; try {API}/status (see docs/show.md)"})
            return None

        def do_GET(self) -> None:
            if not self._allowed():
                return
            path = self._route("GET")
            if path is None:
                return
            st = hb.snapshot()
            if path in ("/", "/status"):
                self._send(200, st)
            elif path.endswith("/health"):
                code = 200 if not st["stalled"] else 503
                self._send(code, {"ok": code == 200, "age_s": st["heartbeat_age_s"]})
            else:  # the API's status: 503 until the render loop has beaten once
                ready = st.get("state") != "starting"
                self._send(200 if ready else 503, live_status(st) if ready else
                           {"error": "the show is starting", **st})

        def do_POST(self) -> None:
            if not self._allowed():
                return
            path = self._route("POST")
            if path is None:
                return
            body = self._body()
            if body is None:
                return
            name = path.rsplit("/", 1)[1]
            arg = None
            if name == "programme":
                if not isinstance(body, dict) or "name" not in body or not (
                        body["name"] is None or isinstance(body["name"], str)):
                    self._send(400, {"error": 'send {"name": "<programme>"} or {"name": null} (back to the '
                                              'timetable) as JSON'})
                    return
                arg = body["name"]
            self._command(name, arg)

        def _body(self) -> Any:
            """The JSON body ({} when empty); None after answering 400/413 for a bad one."""
            raw_len = self.headers.get("Content-Length") or "0"
            try:
                n = int(raw_len)
            except ValueError:
                n = -1
            if n < 0:
                self._send(400, {"error": "bad Content-Length"})
                return None
            if n > MAX_BODY:
                self._send(413, {"error": f"body too large (at most {MAX_BODY} bytes)"})
                return None
            raw = self.rfile.read(n) if n else b""
            if not raw.strip():
                return {}
            try:
                return json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                self._send(400, {"error": "the body is not JSON"})
                return None

        def _command(self, name: str, arg: Any) -> None:
            control = hb.control
            st = hb.snapshot()
            if control is None or st.get("state") == "starting":
                self._send(503, {"error": "the show is not ready (starting)"})
                return
            cmd = control.submit(name, arg, source="http")
            if not cmd.taken.wait(TAKE_WAIT_S) and cmd.cancel():
                self._send(503, {"error": f"the show did not take the command within {TAKE_WAIT_S:.0f} s "
                                          "(stalled?)", "stalled": st["stalled"]})
                return
            if not cmd.done.wait(DONE_WAIT_S):
                self._send(202, {"command": name, "queued": True,
                                 "note": "applied; its effect is not on screen yet", **live_status(hb.snapshot())})
                return
            e = cmd.error
            if isinstance(e, BadInput):
                code = 404 if name == "programme" and "unknown programme" in str(e) else 400
                self._send(code, {"error": str(e), "command": name})
            elif isinstance(e, NotAvailable):
                self._send(501 if name in ("programme", "reload") else 503, {"error": str(e), "command": name})
            elif e is not None:
                log.warning("control command %s failed: %s: %s", name, type(e).__name__, e)
                self._send(500, {"error": f"{type(e).__name__}: {e}", "command": name})
            else:
                took = None if cmd.completed_at is None else round(1000 * (cmd.completed_at - cmd.submitted), 1)
                self._send(200, {"command": name, "applied": True, "note": cmd.note, "took_ms": took,
                                 **(cmd.result or {})})

        def do_PUT(self) -> None:
            self._other()

        def do_DELETE(self) -> None:
            self._other()

        def do_PATCH(self) -> None:
            self._other()

        def _other(self) -> None:
            if self._allowed():
                self._route(self.command)  # 405 on a known path, else 404

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
