"""Remote control: keys and the HTTP API through one dispatcher, in a real window (SDL offscreen, GL through
EGL) with the control server on a real socket; a token beyond loopback; the help overlay."""

from __future__ import annotations

import threading
import time

import pytest

from gallery.errors import BadInput
from generator.samples import image_draft
from installation.control import HELP_LINES, Controller, Dispatcher
from installation.live import run_live
from tests.installation.helpers import show_settings
from tests.installation.remote_helpers import ProgrammeShow, call, non_loopback_ipv4
from tests.installation.test_live import free_port

pytestmark = pytest.mark.gl
TOKEN = "remote-test-token-0123456789"


def wait_ready(base: str, timeout: float = 60) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            code, st = call(base + "/api/v1/status", timeout=2)
            if code == 200 and st.get("item"):
                return st
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError("the show's control API never became ready")


def run_show(settings, catalogue, client, monkeypatch, host="127.0.0.1", token=None, seconds=40, **kw):
    """Run a live show in this (main) thread while ``client(base_url, port)`` drives it from another; the
    client ends the show with staff key presses (the script) by returning; its errors are re-raised."""
    for i in range(4):
        catalogue.add(image_draft(i))
    if token is None:
        monkeypatch.delenv("GALLERY_SHOW_TOKEN", raising=False)
    else:
        monkeypatch.setenv("GALLERY_SHOW_TOKEN", token)
    s = show_settings(settings, durations={"image": 30.0}, heartbeat_seconds=0.5, fps=20, control_host=host, **kw)
    port = free_port()
    box: dict = {}
    holder: dict = {}

    def body() -> None:
        try:
            box["result"] = client(f"http://127.0.0.1:{port}", port)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box["error"] = e
        finally:
            holder["control"].submit("quit", source="script")
            holder["control"].submit("quit", source="script")

    def on_start(control, hb) -> None:
        holder["control"], holder["hb"] = control, hb
        threading.Thread(target=body, daemon=True).start()

    res = run_live(s, catalogue, status_file=None, fullscreen=False, width=160, height=90, seconds=seconds,
                   http_port=port, show_factory=ProgrammeShow, on_start=on_start)
    if "error" in box:
        raise box["error"]
    return res, box.get("result"), holder["control"]


def test_next_pause_programme_over_http_from_loopback(settings, catalogue, monkeypatch):
    def client(base: str, port: int) -> dict:
        out: dict = {}
        st = wait_ready(base)
        first = st["item"]["artwork_id"]
        assert st["paused"] is False and 25 < st["time_left_s"] <= 30 and st["skipped_items"] == []
        assert st["programmes"] == ["day", "evening"] and st["programme"] == "day"
        t0 = time.monotonic()
        code, nxt = call(base + "/api/v1/next", "POST")  # no token from loopback
        out["next_ms"] = 1000 * (time.monotonic() - t0)
        assert code == 200 and nxt["applied"] is True, nxt
        # answered on the new item's first frame: it is coming in (the transition has begun)
        assert nxt["incoming"]["artwork_id"] != first and nxt["items_started"] == st["items_started"] + 1
        code, p = call(base + "/api/v1/pause", "POST")
        assert code == 200 and p["paused"] is True
        time.sleep(0.6)
        _, s1 = call(base + "/api/v1/status")
        time.sleep(0.6)
        _, s2 = call(base + "/api/v1/status")
        assert s1["paused"] and s1["time_left_s"] == s2["time_left_s"]  # show time stands still
        code, again = call(base + "/api/v1/pause", "POST")
        assert code == 200 and again["note"] == "already paused"
        code, r = call(base + "/api/v1/resume", "POST")
        assert code == 200 and r["paused"] is False
        code, prev = call(base + "/api/v1/previous", "POST")
        assert code == 200 and prev["incoming"]["artwork_id"] == first
        # an unknown programme: a clear 404, and the show plays on
        code, e = call(base + "/api/v1/programme", "POST", {"name": "nope"})
        assert code == 404 and "unknown programme 'nope'" in e["error"] and "day, evening" in e["error"]
        code, ok = call(base + "/api/v1/programme", "POST", {"name": "evening"})
        assert code == 200 and ok["programme"] == "evening"
        code, back = call(base + "/api/v1/programme", "POST", {"name": None})
        assert code == 200 and back["programme"] == "day"
        assert call(base + "/api/v1/reload", "POST")[0] == 200
        # bad bodies, paths and methods
        assert call(base + "/api/v1/programme", "POST", raw=b"{not json")[0] == 400
        assert call(base + "/api/v1/programme", "POST", {"nom": "x"})[0] == 400
        assert call(base + "/api/v1/programme", "POST", {"name": 7})[0] == 400
        assert call(base + "/api/v1/programme", "POST", raw=b"x" * 5000)[0] == 413
        assert call(base + "/api/v1/nope", "POST")[0] == 404
        assert call(base + "/api/v1/next")[0] == 405
        assert call(base + "/api/v1/status", "POST")[0] == 405
        assert call(base + "/api/v1/next", "POST", headers={"Origin": "http://evil.example"})[0] == 403
        assert call(base + "/api/v1/next", "POST", headers={"Host": "evil.example"})[0] == 421
        # /status and /health as before
        code, old = call(base + "/status")
        assert code == 200 and old["state"] == "playing"
        assert call(base + "/health")[1]["ok"] is True
        _, out["final"] = call(base + "/api/v1/status")
        return out

    res, out, control = run_show(settings, catalogue, client, monkeypatch)
    assert res.quit_by == "staff"
    assert out["final"]["state"] == "playing" and out["final"]["programme"] == "day"
    assert res.status["items_started"] >= 3
    show_calls = [c.name for c in control.applied if c.source == "http"]
    assert show_calls[:4] == ["next", "pause", "pause", "resume"]
    assert out["next_ms"] < 3000


def test_beyond_loopback_needs_the_token(settings, catalogue, monkeypatch):
    ip = non_loopback_ipv4()
    if ip is None:
        pytest.skip("this machine has no non-loopback IPv4 address")

    def client(base: str, port: int) -> dict:
        wait_ready(base)
        far = f"http://{ip}:{port}"  # the client's address is then {ip}: not localhost
        code, e = call(far + "/api/v1/next", "POST")
        assert code == 401 and "token" in e["error"]
        assert call(far + "/api/v1/next", "POST", token="wrong-token-0123456789")[0] == 401
        assert call(far + "/api/v1/status")[0] == 401 and call(far + "/status")[0] == 401
        _, before = call(base + "/api/v1/status")
        code, nxt = call(far + "/api/v1/next", "POST", token=TOKEN)
        assert code == 200 and nxt["items_started"] == before["items_started"] + 1
        code, p = call(far + "/api/v1/pause", "POST", token=TOKEN)
        assert code == 200 and p["paused"] is True
        code, p = call(base + "/api/v1/resume", "POST")  # this machine itself: no token needed
        assert code == 200 and p["paused"] is False
        return {}

    with pytest.MonkeyPatch.context() as mp:
        import logging

        records: list[str] = []

        class Keep(logging.Handler):
            def emit(self, rec: logging.LogRecord) -> None:
                records.append(rec.getMessage())
        h = Keep()
        logging.getLogger("installation").addHandler(h)
        try:
            res, _, _ = run_show(settings, catalogue, client, mp, host="0.0.0.0", token=TOKEN)
        finally:
            logging.getLogger("installation").removeHandler(h)
    assert res.quit_by == "staff"
    assert any("refused" in r for r in records) and not any("wrong-token" in r or TOKEN in r for r in records)


def test_beyond_loopback_without_a_token_refuses_to_start(settings, catalogue, monkeypatch):
    monkeypatch.delenv("GALLERY_SHOW_TOKEN", raising=False)
    s = show_settings(settings, control_host="0.0.0.0")
    with pytest.raises(BadInput, match=r"GALLERY_SHOW_TOKEN.*show\.token_env"):
        run_live(s, catalogue, status_file=None, fullscreen=False, width=64, height=36, seconds=1, http_port=0)
    monkeypatch.setenv("GALLERY_SHOW_TOKEN", "short")
    with pytest.raises(BadInput, match="too short"):
        run_live(s, catalogue, status_file=None, fullscreen=False, width=64, height=36, seconds=1, http_port=0)


def test_staff_keys_and_the_help_overlay(settings, catalogue):
    """Keys go through the dispatcher; H shows the help card (drawn: the picture changes), H again hides it."""
    for i in range(3):
        catalogue.add(image_draft(i))
    s = show_settings(settings, durations={"image": 30.0}, fps=20)
    seen: dict = {}

    def on_start(control, hb) -> None:
        seen["control"] = control

    res = run_live(s, catalogue, status_file=None, fullscreen=False, width=320, height=180, seconds=30,
                   http_port=0, show_factory=ProgrammeShow, on_start=on_start,
                   script=[(0.5, "h"), (1.0, "space"), (1.5, "h"), (2.0, "space"), (2.2, "right"), (2.8, "q"),
                           (3.0, "escape")])
    c = seen["control"]
    assert res.quit_by == "staff" and res.seconds < 10
    names = [x.name for x in c.applied]
    assert names == ["help", "toggle_pause", "help", "toggle_pause", "next", "quit", "quit"]
    assert res.status["items_started"] == 2 and not c.help_on and not c.paused


class FakeShow:
    """Just what the Controller touches."""

    def __init__(self) -> None:
        self.items_started = 1
        self.message = None
        self.paused = False
        self._skip = False
        self.labels = 0

    def next_item(self) -> None:
        self._skip = True

    def previous_item(self, t) -> None:
        pass  # nothing before

    def toggle_label(self) -> None:
        self.labels += 1

    def say(self, text, t, seconds=3.0) -> None:
        self.message = (text, t + seconds)

    def status(self) -> dict:
        return {"items_started": self.items_started, "paused": self.paused}


class FakeAudio:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def test_controller_pause_clock_overlays_and_skip_completion():
    show, audio = FakeShow(), FakeAudio()
    c = Controller(show, audio, Dispatcher())
    assert c.step(1.0) == (1.0, False)
    p = c.submit("pause", source="http")
    assert c.step(2.0) == (2.0, False) and p.done.is_set() and p.result == {"items_started": 1, "paused": True}
    assert show.message[0] == "Paused" and c.step(5.0)[0] == 2.0  # time stands still
    c.submit("help")
    c.step(5.5)
    assert show.message[0] == HELP_LINES
    c.submit("help")
    c.step(5.6)
    assert show.message[0] == "Paused"
    n = c.submit("next")  # a skip resumes a paused show and is done when the new item has started
    assert c.step(6.0) == (2.0, False) and not c.paused and show.message is None and audio.calls == ["pause", "resume"]
    c.after_frame()
    assert not n.done.is_set()
    show.items_started, show._skip = 2, False  # the show started the new item
    c.after_frame()
    assert n.done.is_set() and n.completed_at >= n.applied_at
    prev = c.submit("previous")
    c.step(6.5)
    assert prev.done.is_set() and prev.note == "nothing before this item"
    bad = c.submit("programme", "x")  # this fake has no programmes: answered, not raised
    c.step(7.0)
    assert bad.done.is_set() and "no programmes" in str(bad.error)
    late = c.submit("next")
    assert late.cancel() and c.step(7.5)[0] == 3.5 and not late.taken.is_set()  # its caller gave up: never applied
    with pytest.raises(BadInput, match="unknown command"):
        c.submit("explode")
    c.submit("quit")
    assert c.step(8.0)[1] is False and "Press Q again" in show.message[0]
    c.submit("quit")
    assert c.step(8.1)[1] is True


def test_a_recording_takes_scripted_commands_through_the_dispatcher(settings, catalogue, tmp_path):
    from installation.record import record_show

    for i in range(3):
        catalogue.add(image_draft(i))
    s = show_settings(settings, durations={"image": 30.0}, fps=10)
    plain = record_show(s, catalogue, tmp_path / "plain.mp4", 4.0, width=64, height=36, fps=10)
    res = record_show(s, catalogue, tmp_path / "cmds.mp4", 4.0, width=64, height=36, fps=10,
                      script=[(1.0, "next"), (2.0, "programme", "no-such"), (3.0, "next")])
    assert plain.status["items_started"] == 1  # 30 s works: nothing changes by itself in 4 s
    assert res.status["items_started"] == 3 and res.frames == 40
    assert any("script: programme failed" in e for e in res.status["recent_errors"])
    with pytest.raises(BadInput, match="cannot pause"):
        record_show(s, catalogue, tmp_path / "p.mp4", 2.0, width=64, height=36, fps=10, script=[(1.0, "pause")])


def test_the_help_overlay_is_drawn_over_the_picture(gl_ctx, settings, catalogue):
    """H puts the staff keys on screen (the renderer's text, centred, like "Paused"); H again takes them off."""
    import numpy as np

    from installation.audio import RecordAudio
    from installation.programme import CatalogueSource
    from installation.render import Renderer, offscreen_target
    from installation.show import Show

    catalogue.add(image_draft(1, size=96))
    s = show_settings(settings, durations={"image": 30.0}, label=False)
    r = Renderer(gl_ctx, 320, 180, s.fit)
    fbo = offscreen_target(gl_ctx, 320, 180)
    show = Show(s, r, RecordAudio(s.sample_rate), source=CatalogueSource(catalogue, s), catalogue=catalogue)
    c = Controller(show, show.audio)
    frames = []
    for i, cmd in enumerate([None, "help", None, "help", None]):
        if cmd:
            c.submit(cmd)
        t, _ = c.step(2.0 + i * 0.1)
        show.frame(t, fbo)
        frames.append(r.read(fbo).astype(int))
    show.close()
    centre = (slice(40, 140), slice(60, 260))
    assert np.abs(frames[2][centre] - frames[0][centre]).mean() > 5  # the help card is there
    assert np.array_equal(frames[4], frames[0])  # and gone again
    assert show.message is None


def test_not_ready_and_stalled_shows_answer_503():
    """No render loop yet, or one that does not take the command: 503, and the command is never applied."""
    from installation.heartbeat import Heartbeat

    port = free_port()
    hb = Heartbeat(None, port, stale_after=10.0)
    base = f"http://127.0.0.1:{port}"
    try:
        code, e = call(base + "/api/v1/next", "POST")
        assert code == 503 and "not ready" in e["error"]
        assert call(base + "/api/v1/status")[0] == 503
        hb.control = d = Dispatcher()  # a loop that never drains it (stalled)
        hb.beat({"state": "playing", "time_left_s": 10.0, "paused": False})
        t0 = time.monotonic()
        code, e = call(base + "/api/v1/next", "POST")
        assert code == 503 and "did not take" in e["error"] and time.monotonic() - t0 >= 1.9
        assert d.take() == []  # given up: the late command is dropped, not applied later
        code, st = call(base + "/api/v1/status")
        assert code == 200 and st["heartbeat_age_s"] >= 1.9 and st["time_left_s"] <= 10.0 - 1.9  # counted down
        assert call(base + "/api/v1/next", "PUT")[0] == 405
        assert call(base + "/nope", "DELETE")[0] == 404
    finally:
        hb.close()
