"""A real pygame window (SDL offscreen driver, OpenGL 3.3 core through EGL): keys, heartbeat, status file."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from generator.samples import image_draft, sound_draft
from installation.heartbeat import Heartbeat, sd_notify
from installation.live import run_live
from tests.installation.helpers import show_settings

pytestmark = pytest.mark.gl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_window_show_with_staff_keys_and_heartbeat(settings, catalogue, data_dir):
    for i in range(3):
        catalogue.add(image_draft(i))
    s = show_settings(settings, durations={"image": 20.0}, heartbeat_seconds=0.2, fps=20)
    port = free_port()
    seen: dict[str, tuple] = {}

    def probe() -> None:
        time.sleep(1.5)
        seen["status"] = get(port, "/status")
        seen["health"] = get(port, "/health")
        seen["nope"] = get(port, "/nope")

    th = threading.Thread(target=probe)
    th.start()
    status_file = data_dir / "show" / "status.json"
    # next at 0.8 s; Q at 2.0 s only arms the quit (the show goes on); Q again at 2.5 s quits.
    res = run_live(s, catalogue, status_file=status_file, fullscreen=False, width=160, height=90, seconds=20,
                   http_port=port, script=[(0.8, "right"), (1.0, "l"), (2.0, "q"), (2.5, "q")])
    th.join()
    assert res.quit_by == "staff" and 2.4 < res.seconds < 6
    assert res.frames > 10
    assert res.status["items_started"] >= 2 and res.status["transitions"] >= 1  # "next" long before 20 s
    code, st = seen["status"]
    assert code == 200 and st["state"] == "playing" and st["item"]["kind"] == "image"
    assert st["memory_mb"] > 10 and st["fps"] > 0 and "dropped_frames" in st and "last_error" in st
    assert seen["health"][0] == 200 and seen["health"][1]["ok"] is True
    assert seen["nope"][0] == 404
    on_disk = json.loads(status_file.read_text())
    assert on_disk["item"]["artwork_id"] in {1, 2, 3} and on_disk["pid"] > 0


def test_heartbeat_reports_a_stall_and_notifies_systemd(tmp_path, monkeypatch):
    sock_path = tmp_path / "notify.sock"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(str(sock_path))
    srv.settimeout(2)
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock_path))
    port = free_port()
    hb = Heartbeat(tmp_path / "st.json", port, stale_after=0.3)
    try:
        assert srv.recv(100) == b"READY=1"
        hb.beat({"state": "playing"})
        assert srv.recv(100) == b"WATCHDOG=1"
        assert get(port, "/health")[0] == 200
        time.sleep(0.5)  # the render loop "froze": no beat
        code, body = get(port, "/health")
        assert code == 503 and body["ok"] is False
    finally:
        hb.close()
        srv.close()
    monkeypatch.delenv("NOTIFY_SOCKET")
    assert sd_notify("WATCHDOG=1") is False  # outside systemd: nothing to tell


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (Debian xvfb)")
def test_fullscreen_under_xvfb_takes_the_screen_size(config_file, catalogue, tmp_path):
    catalogue.add(image_draft(1))
    catalogue.add(sound_draft(3.0, freq=300))  # exercises the open mixer stream (dummy audio driver)
    env = {k: v for k, v in os.environ.items() if k != "SDL_VIDEODRIVER"}
    env["SDL_AUDIODRIVER"] = "dummy"
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 640x360x24", sys.executable, "-m", "gallery.cli", "-c",
           str(config_file), "show", "--fullscreen", "--seconds", "3", "--json"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    st = json.loads(res.stdout.strip().splitlines()[-1])
    assert st["size"] == [640, 360] and st["frames"] > 5 and st["items_started"] >= 1
    assert st["last_error"] is None


def test_show_status_reports_the_heartbeat_and_a_stall(config_file, data_dir, capsys):
    from gallery.cli import main

    def run(*args: str) -> int:
        with pytest.raises(SystemExit) as e:
            main(["-c", str(config_file), "show", "--status", *args])
        return e.value.code

    assert run() == 1  # no status file: not running
    assert "not running" in capsys.readouterr().err
    f = data_dir / "show" / "status.json"
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps({"state": "playing", "item": {"artwork_id": 4, "kind": "walk", "title": "W"},
                             "fps": 29.8, "dropped_frames": 2, "memory_mb": 210.0, "last_error": None}))
    assert run("--json") == 0
    st = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert st["item"]["artwork_id"] == 4 and st["status_file_age_s"] < 5
    old = time.time() - 120
    os.utime(f, (old, old))
    assert run() == 1
    assert "stalled" in capsys.readouterr().err


def test_a_failing_frame_is_reported_and_the_show_goes_on(settings, catalogue, data_dir, monkeypatch):
    from installation.show import Show

    catalogue.add(image_draft(1))
    real = Show.frame
    calls = [0]

    def flaky(self, t, fbo):
        calls[0] += 1
        if 3 <= calls[0] <= 5:
            raise RuntimeError("GL_OUT_OF_MEMORY (simulated)")
        return real(self, t, fbo)
    monkeypatch.setattr(Show, "frame", flaky)
    s = show_settings(settings, fps=20)
    res = run_live(s, catalogue, status_file=None, fullscreen=False, width=64, height=36, seconds=3.0, http_port=0)
    assert calls[0] > 8 and res.frames == calls[0]
    assert "GL_OUT_OF_MEMORY" in " ".join(res.status["recent_errors"])

    monkeypatch.setattr(Show, "frame", lambda self, t, fbo: (_ for _ in ()).throw(RuntimeError("no GL")))
    from gallery.errors import GalleryError

    with pytest.raises(GalleryError, match="frames in a row failed"):
        run_live(s, catalogue, status_file=None, fullscreen=False, width=64, height=36, seconds=30, http_port=0)


def test_a_display_that_does_not_exist_is_bad_input(config_file, capsys):
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["-c", str(config_file), "show", "--fullscreen", "--display", "7", "--seconds", "1"])
    assert e.value.code == 2 and "--display 7" in capsys.readouterr().err
