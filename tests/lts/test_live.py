"""The live mode driven by a real OSC client over loopback."""

from __future__ import annotations

import queue
import threading

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from pythonosc.udp_client import SimpleUDPClient

from generator.lts.checkpoints import load
from generator.lts.live import LiveServer, Player


class NoDevice(Player):
    """A machine without an output device (what CI has): playback is refused with the reason."""

    def __init__(self) -> None:
        self.reason = "no audio output device (test)"
        self._sd = None


@pytest.fixture
def osc(settings, catalogue, small_ckpt):
    replies: queue.Queue = queue.Queue()
    d = Dispatcher()
    d.map("/lts/status", lambda addr, *args: replies.put(list(args)))
    listener = ThreadingOSCUDPServer(("127.0.0.1", 0), d)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    server = LiveServer(settings, catalogue, host="127.0.0.1", port=0, reply_port=listener.server_address[1],
                        checkpoint=str(small_ckpt), player=NoDevice())
    server.start()
    client = SimpleUDPClient("127.0.0.1", server.port)

    def ask(address: str, *args, timeout: float = 20.0) -> list:
        client.send_message(address, list(args))
        return replies.get(timeout=timeout)

    yield ask, replies, server
    server.server.shutdown()
    listener.shutdown()
    listener.server_close()


def test_live_session(osc, catalogue, small_ckpt, tmp_path):
    ask, replies, _server = osc
    names = load(small_ckpt).anchors["names"]
    assert ask("/lts/play")[0] == "error"  # nothing generated yet
    assert ask("/lts/anchors") == ["anchors", *names]
    assert ask("/lts/load_a", names[0]) == ["loaded", "a", names[0]]
    assert ask("/lts/load_b", "no-such-sound")[0] == "error"
    assert ask("/lts/load_b", names[1]) == ["loaded", "b", names[1]]
    assert ask("/lts/curve", 0.0, 0.0, 0.5, 1.4, 1.0, 1.0) == ["curve", 3]
    err = ask("/lts/curve", 0.0, 0.0, 0.5)
    assert err[0] == "error" and "pairs" in err[1]
    assert ask("/lts/duration", 1.0) == ["duration", 1.0]
    assert ask("/lts/loop", 1) == ["loop", 1]
    assert ask("/lts/iterations", 1) == ["iterations", 1]
    assert ask("/lts/generate")[0] == "generating"
    done = replies.get(timeout=60)
    assert done[0] == "ready" and done[1] == pytest.approx(1.0, abs=1e-3)
    play = ask("/lts/play")
    assert play[0] == "error" and "no audio output device" in play[1]  # said clearly, nothing crashes
    assert ask("/lts/stop") == ["stopped"]
    saved = ask("/lts/save")
    assert saved[0] == "saved"
    art = catalogue.get(saved[1])
    assert art.kind == "soundscape" and art.recipe["curve"][1] == pytest.approx([0.5, 1.4]) and art.recipe["loop"] is True
    wav = tmp_path / "live.wav"
    assert ask("/lts/save_wav", str(wav)) == ["saved_wav", str(wav)]
    assert wav.stat().st_size > 44100
    status = ask("/lts/status")
    assert status[0] == "ready" and names[0] in status[1] and "playback disabled" in status[1]
    assert ask("/lts/nonsense")[0] == "error"
    assert ask("/lts/quit") == ["bye"]


def test_player_reports_missing_audio_clearly():
    p = Player()
    if p.available:
        pytest.skip("this machine has an audio output device")
    assert "no audio output" in p.describe() and "playback disabled" in p.describe()
