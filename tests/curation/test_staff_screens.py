"""The staff page lists every screen of a multi-screen installation (from the leader's status)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.curation.helpers import web_client

STATUS = {"state": "playing", "item": {"artwork_id": 3, "kind": "image", "title": "A"}, "programme": "all",
          "screens": [{"screen": "left", "role": "leader", "offset_ms": 0.0, "artwork_id": 3},
                      {"screen": "centre", "role": "follower", "offset_ms": -199.9, "artwork_id": 3},
                      {"screen": "right<b>", "role": "follower", "lost": True, "seen_s_ago": 4.2}]}


class Show(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = json.dumps(STATUS).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a) -> None:
        pass


def test_staff_page_lists_the_screens(settings, catalogue):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Show)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        s = settings.model_copy(update={"curation": settings.curation.model_copy(
            update={"show_url": f"http://127.0.0.1:{srv.server_address[1]}"})})
        with web_client(s, catalogue) as c:
            html = c.get("/staff").text
            js = c.get("/staff/status.json").json()
    finally:
        srv.shutdown()
    assert 'id="screens"' in html and "left · leader" in html and "offset -199.9 ms" in html
    assert "right&lt;b&gt;" in html and "<b>lost</b>" in html  # names escaped; a lost screen said so
    assert [x["screen"] for x in js["screens"]] == ["left", "centre", "right<b>"] and js["screens"][2]["lost"]
