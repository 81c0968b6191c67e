"""The live mode, like the original's Max/MSP front end: an OSC server driving the soundscape engine.

Addresses (all under /lts; every request is answered on /lts/status at the sender's address, port
``reply_port``, as [state, message, ...]):
  /lts/anchors                             the anchor names of the checkpoint: "anchors" NAME ...
  /lts/load_a SOURCE, /lts/load_b SOURCE   an audio file path or an anchor name of the checkpoint
  /lts/curve t0 w0 t1 w1 ...               the drawn weight curve (t in 0..1, weights may leave 0..1)
  /lts/duration SECONDS, /lts/loop 0|1, /lts/iterations N, /lts/seed N
  /lts/generate                            render in the background: "generating" then "ready" (or "error")
  /lts/play, /lts/stop                     through sounddevice when an output device exists
  /lts/save                                add the last rendering to the catalogue: "saved" ARTWORK_ID
  /lts/save_wav PATH                       also write the WAV to a file
  /lts/status                              the current state
  /lts/quit                                stop the server
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from gallery.errors import GalleryError

log = logging.getLogger(__name__)


class Player:
    """Plays a float32 buffer through sounddevice, or says clearly why it cannot."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._sd = None
        try:
            import sounddevice as sd

            dev = sd.query_devices(kind="output")
            self._sd = sd
            self.device_name = str(dev.get("name", "default output"))
        except OSError as e:  # PortAudio missing
            self.reason = f"no audio output: {e} (Debian package libportaudio2)"
        except Exception as e:  # noqa: BLE001 - sounddevice.PortAudioError and ValueError when no device exists
            self.reason = f"no audio output device ({e})"

    @property
    def available(self) -> bool:
        return self._sd is not None

    def describe(self) -> str:
        return f"sounddevice -> {self.device_name}" if self.available else f"{self.reason}; playback disabled"

    def play(self, audio: np.ndarray, sr: int, loop: bool) -> None:
        if not self.available:
            raise GalleryError(self.describe())
        self._sd.play(audio, sr, loop=loop)

    def stop(self) -> None:
        if self.available:
            self._sd.stop()


class LiveServer:
    def __init__(self, settings: Any, catalogue: Any, host: str = "127.0.0.1", port: int = 9010,
                 reply_port: int = 9011, checkpoint: str | None = None, player: Player | None = None) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import ThreadingOSCUDPServer

        self.settings, self.catalogue = settings, catalogue
        self.reply_port = reply_port
        self.player = player or Player()
        self.params: dict[str, Any] = {"mode": "between", "curve": [[0.0, 0.0], [1.0, 1.0]], "loop": False,
                                       "duration": float(settings.lts.duration),
                                       "iterations": int(settings.lts.phase_iterations), "seed": 0}
        if checkpoint:
            self.params["checkpoint"] = checkpoint
        self.state = "idle"
        self.draft = None
        self.audio: np.ndarray | None = None
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        d = Dispatcher()
        for name in ("anchors", "load_a", "load_b", "curve", "duration", "loop", "iterations", "seed", "generate", "play",
                     "stop", "save", "save_wav", "status", "quit"):
            d.map(f"/lts/{name}", self._wrap(getattr(self, f"_on_{name}")), needs_reply_address=True)
        d.set_default_handler(self._unknown, needs_reply_address=True)
        self.server = ThreadingOSCUDPServer((host, port), d)
        self.host, self.port = self.server.server_address[:2]

    # ------------------------------------------------------------------ plumbing
    def reply(self, addr: tuple[str, int], *values: Any) -> None:
        from pythonosc.udp_client import SimpleUDPClient

        SimpleUDPClient(addr[0], self.reply_port).send_message("/lts/status", list(values))

    def _wrap(self, fn):
        def handler(client: tuple[str, int], address: str, *args: Any) -> None:
            try:
                out = fn(client, *args)
                if out is not None:
                    self.reply(client, *out)
            except (GalleryError, ValueError, TypeError, OSError) as e:
                self.reply(client, "error", f"{address}: {e}")
        return handler

    def _unknown(self, client: tuple[str, int], address: str, *args: Any) -> None:
        self.reply(client, "error", f"unknown address {address}")

    def serve_forever(self) -> None:
        try:
            self.server.serve_forever()
        finally:
            self.player.stop()
            self.server.server_close()

    def start(self) -> threading.Thread:
        t = threading.Thread(target=self.serve_forever, daemon=True, name="lts-osc")
        t.start()
        return t

    def shutdown(self) -> None:
        threading.Thread(target=self.server.shutdown, daemon=True).start()

    # ------------------------------------------------------------------ handlers
    def _on_anchors(self, client, *rest):
        from generator.lts.checkpoints import load_configured

        return ("anchors", *load_configured(self.settings, self.params.get("checkpoint")).anchors.get("names", []))

    def _on_load_a(self, client, source: str = "", *rest):
        return self._load("a", source)

    def _on_load_b(self, client, source: str = "", *rest):
        return self._load("b", source)

    def _load(self, which: str, source: str):
        if not isinstance(source, str) or not source:
            raise ValueError(f"load_{which} needs a sound file path or an anchor name")
        from generator.lts.checkpoints import load_configured

        loaded = load_configured(self.settings, self.params.get("checkpoint"))
        if source not in loaded.anchors.get("names", []) and not Path(source).is_file():
            raise ValueError(f"sound {source!r} is neither an audio file nor an anchor of the checkpoint")
        self.params[which] = source
        return ("loaded", which, source)

    def _on_curve(self, client, *values):
        from generator.lts.synth import parse_curve

        if len(values) < 2 or len(values) % 2:
            raise ValueError("curve takes pairs: t0 w0 t1 w1 ...")
        pts = [[float(values[i]), float(values[i + 1])] for i in range(0, len(values), 2)]
        self.params["curve"] = parse_curve(pts).tolist()
        return ("curve", len(pts))

    def _on_duration(self, client, seconds=None, *rest):
        s = float(seconds)
        if not 0 < s <= 600:
            raise ValueError(f"duration {s}: choose 0 < seconds <= 600 in live mode")
        self.params["duration"] = s
        return ("duration", s)

    def _on_loop(self, client, flag=1, *rest):
        self.params["loop"] = bool(int(flag))
        return ("loop", int(self.params["loop"]))

    def _on_iterations(self, client, n=4, *rest):
        n = int(n)
        if not 0 <= n <= 500:
            raise ValueError(f"iterations {n}: choose 0..500")
        self.params["iterations"] = n
        return ("iterations", n)

    def _on_seed(self, client, n=0, *rest):
        self.params["seed"] = int(n)
        return ("seed", int(n))

    def _on_generate(self, client, *rest):
        with self._lock:
            if self.state == "generating":
                return ("busy", "already generating")
            self.state = "generating"
        self._worker = threading.Thread(target=self._generate, args=(client,), daemon=True)
        self._worker.start()
        return ("generating", float(self.params["duration"]))

    def _generate(self, client) -> None:
        from generator.jobs import JobContext
        from generator.lts.jobs import soundscape
        from generator.registry import validate as validate_params

        try:
            ctx = JobContext(settings=self.settings, catalogue=_NoWrite(self.catalogue),
                             workdir=self.settings.path("work"), seed=int(self.params["seed"]))
            params = validate_params("lts.soundscape", {k: v for k, v in self.params.items() if k != "seed"})
            draft = soundscape(params, ctx)[0]
            import io

            import soundfile as sf

            audio, sr = sf.read(io.BytesIO(draft.media[0].data), dtype="float32")
            with self._lock:
                self.draft, self.audio, self.sr, self.state = draft, audio, sr, "ready"
            self.reply(client, "ready", float(len(audio) / sr), draft.title)
        except Exception as e:  # reported to the client, never kills the server
            log.exception("live generate failed")
            with self._lock:
                self.state = "error"
            self.reply(client, "error", f"/lts/generate: {e}")

    def _ready(self):
        if self.audio is None:
            raise ValueError("nothing generated yet: send /lts/generate first")

    def _on_play(self, client, *rest):
        self._ready()
        self.player.play(self.audio, self.sr, loop=bool(self.params.get("loop")))
        self.state = "playing"
        return ("playing", self.player.describe())

    def _on_stop(self, client, *rest):
        self.player.stop()
        if self.state == "playing":
            self.state = "ready"
        return ("stopped",)

    def _on_save(self, client, *rest):
        self._ready()
        art_id = self.catalogue.add(self.draft)
        return ("saved", int(art_id))

    def _on_save_wav(self, client, path: str = "", *rest):
        self._ready()
        if not path:
            raise ValueError("save_wav needs a file path")
        p = Path(path).expanduser()
        if not p.parent.is_dir():
            raise ValueError(f"folder {p.parent} does not exist")
        p.write_bytes(self.draft.media[0].data)
        return ("saved_wav", str(p))

    def _on_status(self, client, *rest):
        p = self.params
        return (self.state, (f"a={p.get('a')} b={p.get('b')} duration={p['duration']} loop={int(p['loop'])} "
                            f"curve={p['curve']}; {self.player.describe()}"))

    def _on_quit(self, client, *rest):
        self.player.stop()
        self.shutdown()
        return ("bye",)


class _NoWrite:
    """The catalogue as the job sees it in live mode: registering the model is fine, adding happens on save."""

    def __init__(self, cat: Any) -> None:
        self._cat = cat

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cat, name)
