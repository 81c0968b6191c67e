"""The show's own paths: a still on screen, video playback, the A/V offset of a recording, memory over
transitions, and the catalogue refresh."""

from __future__ import annotations

import gc
import time
from pathlib import Path

import numpy as np

from bench.installation_bench.crossfades import H, W


def show_still(frames: int, skip_unchanged: bool) -> list[float]:
    """Show.frame() while one 1080p still stays on screen (no transition, label steady)."""
    import cv2

    from generator import procedural
    from installation.audio import RecordAudio
    from installation.media import Prepared, fit_picture
    from installation.programme import Entry, MediaRef
    from installation.render import Renderer, headless_context, offscreen_target
    from installation.settings import ShowSettings
    from installation.show import Playing, Show

    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    r = Renderer(ctx, W, H, "contain")
    ss = ShowSettings(label=False, http_port=0)
    show = Show(ss, r, RecordAudio(ss.sample_rate))
    img = fit_picture(cv2.resize(procedural.draw(1, 512), (W, H)), W, H, "contain")
    e = Entry(1, "image", "x", None, 1e9, MediaRef(Path("x"), "0" * 64, "image"))  # type: ignore[arg-type]
    r.upload(0, img)
    show.current = Playing(Prepared(e, image=img), 0.0, 0, 1e9)
    times = []
    for i in range(frames):
        if not skip_unchanged:
            show.invalidate()
        t0 = time.perf_counter()
        show.frame(i / 30, fbo)
        ctx.finish()
        times.append(time.perf_counter() - t0)
    r.release()
    ctx.release()
    return times


def make_video(path: Path, size: tuple[int, int], seconds: float, fps: int = 30) -> None:
    import imageio_ffmpeg

    w, h = size
    wr = imageio_ffmpeg.write_frames(str(path), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                     macro_block_size=1, ffmpeg_log_level="error",
                                     output_params=["-preset", "ultrafast", "-crf", "23"])
    wr.send(None)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(int(seconds * fps)):
        ph = i / fps * 2
        f = np.stack([127 + 120 * np.sin(xx / 97 + ph), 127 + 120 * np.sin(yy / 61 - ph),
                      127 + 120 * np.sin((xx + yy) / 143 + 2 * ph)], axis=-1).astype(np.uint8)
        wr.send(f.tobytes())
    wr.close()


def gl_videos(path: Path, frames: int, variants: dict[str, bool], fps: float = 30.0) -> \
        dict[str, tuple[list[float], int]]:
    """Play a video on the show's timeline, once per variant, frame by frame in turn (each with its own
    decoder), so all meet the same load; per variant the frame times (fetch the due frame, upload when new,
    draw, glFinish) and the frames that were not decoded in time. A variant's flag ``scaled``: draw as the
    renderer did before a screen-size picture was drawn texel for texel (linear filtering, fitting shader)."""
    import moderngl

    from installation.media import VideoStream
    from installation.render import Renderer, headless_context, offscreen_target

    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    play = {}
    for name, scaled in variants.items():
        r = Renderer(ctx, W, H, "contain")
        v = VideoStream(path)
        r.upload(0, v.frame)
        play[name] = (r, v, scaled, [], [0])
    start = time.perf_counter()
    for i in range(frames):
        due = start + i / fps  # paced like the real show (decode runs ahead on its thread meanwhile)
        while time.perf_counter() < due:
            time.sleep(0.0005)
        for r, v, scaled, times, late in play.values():
            t0 = time.perf_counter()
            frame, new = v.frame_at(i / fps, block=False)
            if new:
                r.upload(0, frame)
                if scaled:
                    r.exact[0] = False
                    r.slots[0].filter = (moderngl.LINEAR, moderngl.LINEAR)
            if v.index < int(i / fps * v.fps + 1e-6) and not v.ended:
                late[0] += 1
            r.draw(fbo, a=0, b=None)
            ctx.finish()
            times.append(time.perf_counter() - t0)
    out = {}
    for name, (r, v, _, times, late) in play.items():
        v.close()
        r.release()
        out[name] = (times, late[0])
    ctx.release()
    return out


def av_offset(tmp: Path) -> float:
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from generator.samples import image_draft, sound_draft, video_draft
    from installation.record import record_show
    from installation.recording import decode_audio, decode_video
    from installation.settings import ShowSettings

    s = load_settings(None, environ={}, overrides={"data_dir": str(tmp / "av"), "catalogue": {"fsync": False}})
    cat = open_catalogue(s)
    cat.add(image_draft(1))
    vid = cat.add(video_draft(tmp, seconds=3.0, fps=25, flash_at=1.0))
    cat.add(sound_draft(3.0, click_at=1.0, pair_with=vid))
    ss = ShowSettings(fresh_hours=48, durations={"image": 2.0}, transition_seconds=0.5, http_port=0)
    out = tmp / "av.mp4"
    record_show(ss, cat, out, 3.0, width=320, height=180, fps=25)
    frames, fps = decode_video(out)
    flash = np.flatnonzero(frames.reshape(len(frames), -1).mean(axis=1) > 128)[0] / fps
    a = decode_audio(out)
    click = np.flatnonzero(np.abs(a) > 0.5)[0] / 44100
    cat.close()
    return click - flash


def memory(tmp: Path, transitions: list[int]) -> list[tuple[int, float, int, int, float]]:
    import psutil

    from catalogue import open_catalogue
    from gallery.config import load_settings
    from generator.samples import image_draft, sound_draft, video_draft
    from installation.audio import RecordAudio
    from installation.programme import CatalogueSource
    from installation.render import Renderer, headless_context, offscreen_target
    from installation.settings import ShowSettings
    from installation.show import Show

    s = load_settings(None, environ={}, overrides={"data_dir": str(tmp / "mem"), "catalogue": {"fsync": False}})
    cat = open_catalogue(s)
    for i in range(6):
        cat.add(image_draft(i, size=256))
    for i in range(2):
        vid = cat.add(video_draft(tmp, seconds=1.5, fps=10, size=128, seed=i))
        cat.add(sound_draft(1.5, pair_with=vid, freq=300 + 50 * i))
    ss = ShowSettings(durations={"image": 1.5}, default_duration=1.5, transition_seconds=0.5, label_seconds=0.3,
                      label_fade=0.1, http_port=0, seed=1, fresh_hours=0)
    ctx = headless_context()
    fbo = offscreen_target(ctx, 320, 180)
    r = Renderer(ctx, 320, 180, "contain")
    audio = RecordAudio(ss.sample_rate, sink=lambda chunk: None)
    show = Show(ss, r, audio, source=CatalogueSource(cat, ss), catalogue=cat)
    proc = psutil.Process()
    rows = []
    fps, i = 10.0, 0
    t_start = time.perf_counter()
    for target in transitions:
        while show.transitions < target:
            show.frame(i / fps, fbo)
            audio.advance((i + 1) / fps)
            i += 1
        gc.collect()
        rows.append((show.transitions, proc.memory_info().rss / 1e6, r.live_textures, proc.num_fds(),
                     time.perf_counter() - t_start))
    show.close()
    r.release()
    ctx.release()
    cat.close()
    return rows


def catalogue_refresh(tmp: Path, n: int) -> list[tuple[str, float]]:
    """Seconds per catalogue refresh with n works: a full rebuild every time vs the show's incremental read."""
    from catalogue import ArtworkDraft, MediaDraft, open_catalogue
    from gallery.config import load_settings
    from generator import procedural
    from installation.programme import CatalogueSource
    from installation.settings import ShowSettings

    s = load_settings(None, environ={}, overrides={"data_dir": str(tmp / "big"), "catalogue": {"fsync": False}})
    cat = open_catalogue(s)
    from gallery.imaging import png_bytes

    png = png_bytes(procedural.draw(0, 16))
    for k in range(0, n, 500):
        cat.add_many([ArtworkDraft(kind="image", title=f"w{i}", recipe={"i": i},
                                   media=[MediaDraft(role="image", mime="image/png", data=png)])
                      for i in range(k, min(n, k + 500))])
    ss = ShowSettings(http_port=0)
    out = []
    for name, fresh in (("full rebuild each refresh", True), ("incremental (show)", False)):
        src = CatalogueSource(cat, ss)
        src.refresh(0.0)
        times = []
        for r in range(3):
            if fresh:
                src = CatalogueSource(cat, ss)
            t0 = time.perf_counter()
            got = src.refresh(float(r))
            times.append(time.perf_counter() - t0)
        assert len(got) == n
        out.append((name, float(np.median(times))))
    cat.close()
    return out
