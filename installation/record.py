"""`gallery show --headless --record OUT.mp4`: the show through EGL, written with its mixed sound.

Pictures go to ffmpeg (libx264, yuv420p) as they are drawn; the sound is mixed sample-exactly on the
same frame clock and muxed at the end (AAC). The recording is what visitors would see and hear.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gallery.errors import BadInput, GalleryError
from installation.audio import RecordAudio
from installation.control import Controller
from installation.programme import CatalogueSource
from installation.render import Renderer, headless_context, offscreen_target
from installation.settings import ShowSettings
from installation.show import Show, run_frames

log = logging.getLogger(__name__)


@dataclass
class RecordResult:
    path: Path
    frames: int
    seconds: float
    width: int
    height: int
    fps: float
    status: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)  # Show.timeline: what played when
    sound_levels: dict[str, Any] = field(default_factory=dict)  # media sha256 -> installation.loudness.Level


def mux(video: Path, audio: Path, out: Path, audio_codec: str = "aac") -> None:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    codec = ["-c:a", "aac", "-b:a", "192k"] if audio_codec == "aac" else ["-c:a", "pcm_s16le"]
    cmd = [exe, "-y", "-loglevel", "error", "-i", str(video), "-i", str(audio), "-map", "0:v:0", "-map", "1:a:0",
           "-c:v", "copy", *codec, "-movflags", "+faststart", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise GalleryError(f"ffmpeg could not mux {out}: {res.stderr.strip()[-400:]}")


def record_show(settings: ShowSettings, catalogue: Any, out: Path, seconds: float, *, width: int | None = None,
                height: int | None = None, fps: float | None = None, wall_start: datetime | None = None,
                seed: int | None = None, source: Any = None, audio_codec: str = "aac",
                media: Any = None, script: list[tuple] | None = None,
                loudness_cache: Path | None = None) -> RecordResult:
    """Record ``seconds`` of the show into ``out``. ``script``: (show time, command[, argument]) entries
    applied through the same dispatcher as the staff keys and the control API (installation.control),
    e.g. (5.0, "next") or (9.0, "programme", "evening"); a recording cannot pause (its sound runs on
    the frame clock). ``loudness_cache``: the file of measured loudness (``show.loudness_cache`` under
    data_dir; None: memory only)."""
    import imageio_ffmpeg

    w, h = width or settings.width, height or settings.height
    fps = fps or settings.fps
    if seconds <= 0:
        raise BadInput(f"--seconds must be positive, not {seconds}")
    if w % 2 or h % 2:
        raise BadInput(f"recording size {w}x{h}: H.264 (yuv420p) needs an even width and height")
    out = Path(out)
    if out.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise BadInput(f"--record {out}: write an .mp4 (or .mov / .mkv) file")
    if not out.parent.is_dir():
        raise BadInput(f"--record {out}: folder {out.parent} does not exist")
    ctx = headless_context()
    fbo = offscreen_target(ctx, w, h)
    r = Renderer(ctx, w, h, settings.fit)
    src = source if source is not None else CatalogueSource(catalogue, settings)
    with tempfile.TemporaryDirectory(prefix="show-rec-", dir=out.parent) as tmp:
        vpath, apath = Path(tmp) / "video.mp4", Path(tmp) / "audio.wav"
        wav = wave.open(str(apath), "wb")  # noqa: SIM115 - closed in the finally below, with the others
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(settings.sample_rate)
        audio = RecordAudio(settings.sample_rate, settings.volume,
                            sink=lambda chunk: wav.writeframes(np.ascontiguousarray(chunk, "<i2").tobytes()))
        show = Show(settings, r, audio, source=src, catalogue=catalogue, wall_start=wall_start, seed=seed,
                    media=media, loudness_cache=loudness_cache)
        writer = imageio_ffmpeg.write_frames(str(vpath), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                             macro_block_size=1, quality=7, ffmpeg_log_level="error",
                                             output_params=["-preset", "veryfast"])
        writer.send(None)

        def each(i: int, t: float) -> None:
            writer.send(r.read(fbo).tobytes())
            audio.advance((i + 1) / fps)  # the sound up to the end of this frame

        try:
            n = run_frames(show, fbo, seconds, fps, each) if not script else scripted(show, audio, fbo, seconds, fps,
                                                                                      each, script)
        finally:
            writer.close()
            wav.close()
            status = show.status()
            timeline = [dict(row) for row in show.timeline]
            levels = dict(show.leveller.levels) if show.leveller is not None else {}
            show.close()
            r.release()
            fbo.release()
            ctx.release()
        mux(vpath, apath, out, audio_codec)
    log.info("recorded %s: %d frames, %.1f s at %dx%d, %d items, %d skipped", out, n, n / fps, w, h,
             status["items_started"], status["skipped"])
    return RecordResult(out, n, n / fps, w, h, fps, status, timeline, levels)


def scripted(show: Show, audio: Any, fbo: Any, seconds: float, fps: float, each: Any, script: list[tuple]) -> int:
    """run_frames with scripted commands applied through a Controller before the frames they fall on."""
    control = Controller(show, audio, on_error=lambda c: show._error(f"script: {c.name} failed: {c.error}"))
    todo = sorted(script, key=lambda e: e[0])
    for e in todo:
        if e[1] in ("pause", "resume", "toggle_pause"):
            raise BadInput(f"script: a recording cannot {e[1]} (its sound runs on the frame clock)")
    n = int(round(seconds * fps))
    for i in range(n):
        raw = i / fps
        while todo and todo[0][0] <= raw:
            e = todo.pop(0)
            control.submit(e[1], e[2] if len(e) > 2 else None, source="script")
        t, stop = control.step(raw)
        if stop:
            return i
        show.frame(t, fbo)
        control.after_frame()
        each(i, t)
    return n
