"""Benchmarks of the show (prints tables): frame times on this machine's GL, A/V offset, memory over time.

    .venv/bin/python bench/installation.py [--frames 120] [--transitions 1000] [--quick]

1. Frame time (p50 / p99) at 1920x1080: a crossfade between two 1080p pictures through moderngl
   (llvmpipe here), beside a pygame-only software crossfade of the same frames (Surface alpha blit);
   video playback (H.264 decode on the worker thread, upload into the one texture, draw).
2. The audio/video offset measured in a headless recording (a click on a flash).
3. Memory (RSS), live GL textures and open files after 10 and after N transitions.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

W, H = 1920, 1080


def pct(times: list[float]) -> tuple[float, float, float]:
    a = np.array(times) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), 1000 / float(np.mean(a))


def pictures() -> tuple[np.ndarray, np.ndarray]:
    import cv2

    from generator import procedural

    a = cv2.resize(procedural.draw(1, 512), (W, H), interpolation=cv2.INTER_CUBIC)
    b = cv2.resize(procedural.draw(2, 512), (W, H), interpolation=cv2.INTER_CUBIC)
    return a, b


def crossfades_interleaved(frames: int) -> dict[str, tuple[list[float], list[float]]]:
    """The crossfade variants frame by frame in turn (A B C D A B C D ...), so that on a shared, busy
    machine each meets the same load; wall time and process CPU time (all threads) per frame."""
    import pygame

    from generator import procedural
    from installation.media import fit_picture
    from installation.render import Renderer, headless_context, offscreen_target

    pygame.display.init()
    screen = pygame.display.set_mode((W, H))
    a, b = pictures()
    sa = pygame.image.frombuffer(a.tobytes(), (W, H), "RGB").convert()
    sb = pygame.image.frombuffer(b.tobytes(), (W, H), "RGB").convert()
    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    fitted, scaled = Renderer(ctx, W, H, "contain"), Renderer(ctx, W, H, "contain")
    p1, p2 = procedural.draw(1, 512), procedural.draw(2, 512)
    fitted.upload(0, fit_picture(p1, W, H, "contain"), exact=True)
    fitted.upload(1, fit_picture(p2, W, H, "contain"), exact=True)
    scaled.upload(0, p1)
    scaled.upload(1, p2)

    def pg(i: int) -> None:
        screen.blit(sa, (0, 0))
        sb.set_alpha(int(255 * (i % 60) / 60))
        screen.blit(sb, (0, 0))
        pygame.display.flip()

    def gl(r: Renderer, readback: bool):  # noqa: ANN202
        def f(i: int) -> None:
            r.draw(fbo, a=0, b=1, t=(i % 60) / 60, mode="crossfade")
            if readback:
                r.read(fbo)
            else:
                ctx.finish()
        return f

    variants = {"crossfade, pygame software blit (alpha)": pg,
                "crossfade, moderngl, screen-size pictures 1:1": gl(fitted, False),
                "crossfade, moderngl, 512px pictures GPU-scaled": gl(scaled, False),
                "crossfade, 512px GPU-scaled + readback (recording)": gl(scaled, True)}
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in variants}
    for i in range(frames + 5):
        for name, fn in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn(i)
            if i >= 5:
                out[name][0].append(time.perf_counter() - w0)
                out[name][1].append(time.process_time() - c0)
    fitted.release()
    scaled.release()
    ctx.release()
    pygame.display.quit()
    return out


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
    r.upload(0, img, exact=True)
    show.current = Playing(Prepared(e, image=img, fitted=True), 0.0, 0, 1e9)
    times = []
    for i in range(frames):
        if not skip_unchanged:
            show._dirty = True
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


def gl_video(path: Path, frames: int, fps: float = 30.0) -> tuple[list[float], int]:
    """Play a video on the show's timeline; returns frame times and the frames that were not decoded in time."""
    from installation.media import VideoStream
    from installation.render import Renderer, headless_context, offscreen_target

    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    r = Renderer(ctx, W, H, "contain")
    v = VideoStream(path)
    r.upload(0, v.frame)
    times = []
    late = 0
    start = time.perf_counter()
    for i in range(frames):
        due = start + i / fps  # paced like the real show (decode runs ahead on its thread meanwhile)
        while time.perf_counter() < due:
            time.sleep(0.0005)
        t0 = time.perf_counter()
        frame, new = v.frame_at(i / fps, block=False)
        if new:
            r.upload(0, frame)
        if v.index < int(i / fps * v.fps + 1e-6) and not v.ended:
            late += 1
        r.draw(fbo, a=0, b=None)
        ctx.finish()
        times.append(time.perf_counter() - t0)
    v.close()
    r.release()
    ctx.release()
    return times, late


def av_offset(tmp: Path) -> float:
    from catalogue import open_catalogue
    from gallery.config import load_settings
    from installation.record import record_show
    from installation.settings import ShowSettings
    from tests.installation.helpers import decode_audio, decode_video, image_draft, sound_draft, video_draft

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
    from installation.audio import RecordAudio
    from installation.programme import CatalogueSource
    from installation.render import Renderer, headless_context, offscreen_target
    from installation.settings import ShowSettings
    from installation.show import Show
    from tests.installation.helpers import image_draft, sound_draft, video_draft

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
    png = procedural.png_bytes(procedural.draw(0, 16))
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--transitions", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="fewer frames and transitions")
    args = ap.parse_args()
    if args.quick:
        args.frames, args.transitions = 30, 100
    import moderngl

    from installation.render import headless_context

    c = headless_context()
    renderer = c.info["GL_RENDERER"]
    c.release()
    print(f"# show benchmarks on {renderer} (moderngl {moderngl.__version__}), {os.cpu_count()} CPU cores, "
          f"{args.frames} frames per row\n")
    rows = []
    cpu: dict[str, float] = {}
    for name, (wall, cpu_t) in crossfades_interleaved(args.frames).items():
        rows.append((name, *pct(wall)))
        cpu[name] = float(np.median(cpu_t)) * 1000
    rows.append(("still on screen, redrawn every frame", *pct(show_still(args.frames, False))))
    rows.append(("still on screen, unchanged frames skipped (show)", *pct(show_still(args.frames, True))))
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        late = {}
        for name, size in (("1080p", (W, H)), ("512x512", (512, 512))):
            p = tmp / f"{name}.mp4"
            make_video(p, size, seconds=max(2.0, args.frames / 30 + 0.5))
            times, late[name] = gl_video(p, args.frames)
            rows.append((f"video {name} 30 fps (decode thread + upload + draw)", *pct(times)))
        print(f"## Frame time at {W}x{H}\n")
        print(f"| {'path':52} | p50 ms | p99 ms | frames/s | CPU ms/frame (p50) |")
        print(f"|{'-' * 54}|-------:|-------:|---------:|-------------------:|")
        for name, p50, p99, fps in rows:
            c = f"{cpu[name]:18.1f}" if name in cpu else f"{'':18}"
            print(f"| {name:52} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} | {c} |")
        print(f"\nmoderngl crossfade vs pygame software, interleaved frame by frame: {rows[1][3] / rows[0][3]:.2f}x "
              f"(screen-size pictures), {rows[2][3] / rows[0][3]:.2f}x (512px pictures) the frame rate "
              f"(goal >= 1.5x); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"video frames not decoded in time (shown late, the previous frame held): {late}\n")
        off = av_offset(tmp)
        print("## A/V offset in a recording (click on a flash, 25 fps, AAC)\n")
        print(f"offset: {off * 1000:+.1f} ms (one frame = 40.0 ms; goal within one frame)\n")
        print("## Memory over transitions (320x180, images + videos with paired sound)\n")
        print("| transitions | RSS MB | GL textures | open fds | seconds |")
        print("|------------:|-------:|------------:|---------:|--------:|")
        for n, rss, tex, fds, sec in memory(tmp, [10, args.transitions]):
            print(f"| {n:11d} | {rss:6.1f} | {tex:11d} | {fds:8d} | {sec:7.1f} |")
        works = 500 if args.quick else 5000
        print(f"\n## Catalogue refresh with {works} works (every show.refresh_seconds, on its own thread)\n")
        print("| read                         | seconds |")
        print("|------------------------------|--------:|")
        for name, sec in catalogue_refresh(tmp, works):
            print(f"| {name:28} | {sec:7.3f} |")


if __name__ == "__main__":
    main()
