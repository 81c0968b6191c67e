"""The show in a pygame window (OpenGL 3.3 core, drawn by moderngl): fullscreen on a display, or windowed.

Staff keys: Right/N next, Left/P previous, Space pause, L label on/off, Q/Esc quit (press twice).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery.errors import BadInput, GalleryError
from installation.audio import LiveAudio
from installation.heartbeat import Heartbeat
from installation.programme import CatalogueSource
from installation.render import Renderer
from installation.settings import ShowSettings
from installation.show import Show

log = logging.getLogger(__name__)
QUIT_CONFIRM_SECONDS = 4.0
MAX_FAILED_FRAMES = 60


def open_window(width: int, height: int, fullscreen: bool, display: int) -> tuple[Any, tuple[int, int]]:
    import moderngl
    import pygame

    pygame.display.init()
    n = pygame.display.get_num_displays()
    if display >= n:
        raise BadInput(f"--display {display}: this machine has {n} display(s) (0..{n - 1})")
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)
    pygame.display.gl_set_attribute(pygame.GL_DOUBLEBUFFER, 1)
    flags = pygame.OPENGL | pygame.DOUBLEBUF
    from installation.render import load_llvm_users_first

    load_llvm_users_first()  # before SDL loads Mesa (see there)
    if fullscreen:
        flags |= pygame.FULLSCREEN
        size = pygame.display.get_desktop_sizes()[display]
    else:
        size = (width, height)
    try:
        pygame.display.set_mode(size, flags, display=display, vsync=1)
    except pygame.error:
        pygame.display.set_mode(size, flags, display=display)  # no vsync on this driver
    pygame.display.set_caption("Latent Gallery")
    if fullscreen:
        pygame.mouse.set_visible(False)
    try:
        ctx = moderngl.create_context(require=330)
    except Exception as e:
        raise GalleryError(f"no OpenGL 3.3 core context on this display: {e}") from e
    w, h = pygame.display.get_window_size()
    return ctx, (w, h)


@dataclass
class LiveResult:
    frames: int
    seconds: float
    status: dict[str, Any]
    quit_by: str


def run_live(settings: ShowSettings, catalogue: Any, *, status_file: Path | None, fullscreen: bool,
             display: int = 0, seconds: float | None = None, width: int | None = None, height: int | None = None,
             http_port: int | None = None, script: list[tuple[float, str]] | None = None,
             media: Any = None, loudness_cache: Path | None = None) -> LiveResult:
    """Run the show until quit (or for ``seconds``). ``script``: (show time, key name) pairs for tests."""
    import pygame

    ctx, (w, h) = open_window(width or settings.width, height or settings.height, fullscreen, display)
    r = Renderer(ctx, w, h, settings.fit)
    try:
        audio: Any = LiveAudio(settings.sample_rate, settings.volume)
    except pygame.error as e:
        raise GalleryError(f"cannot open the sound output ({e}); set SDL_AUDIODRIVER=dummy for a silent show") from e
    hb = Heartbeat(status_file, settings.http_port if http_port is None else http_port,
                   stale_after=max(10.0, 5 * settings.heartbeat_seconds))
    show = Show(settings, r, audio, source=CatalogueSource(catalogue, settings), catalogue=catalogue, live=True,
                media=media, loudness_cache=loudness_cache)
    script = sorted(script or [])
    clock = pygame.time.Clock()
    t0 = time.monotonic()
    paused_at: float | None = None
    paused_total = 0.0
    quit_armed: float | None = None
    frames = dropped = 0
    last_frame = time.monotonic()
    next_beat = 0.0
    fps_window: list[float] = []
    quit_by = "time"
    failures = 0
    try:
        while True:
            mono = time.monotonic()
            t = (paused_at if paused_at is not None else mono) - t0 - paused_total
            keys = [ev.key for ev in pygame.event.get(pygame.KEYDOWN)]
            if any(ev.type == pygame.QUIT for ev in pygame.event.get()):
                quit_by = "window"
                break
            while script and script[0][0] <= mono - t0:
                keys.append(pygame.key.key_code(script.pop(0)[1]))
            stop = False
            for k in keys:
                if k in (pygame.K_RIGHT, pygame.K_n):
                    show.next_item()
                elif k in (pygame.K_LEFT, pygame.K_p):
                    show.previous_item(t)
                elif k == pygame.K_l:
                    show.toggle_label()
                elif k == pygame.K_SPACE:
                    if paused_at is None:
                        paused_at = mono
                        audio.pause()
                        show.say("Paused", t, 1e9)
                    else:
                        paused_total += mono - paused_at
                        paused_at = None
                        audio.resume()
                        show.message = None
                elif k in (pygame.K_q, pygame.K_ESCAPE):
                    if quit_armed is not None and mono - quit_armed < QUIT_CONFIRM_SECONDS:
                        stop = True
                    else:
                        quit_armed = mono
                        show.say("Press Q again to quit the show", t, QUIT_CONFIRM_SECONDS)
            if stop:
                quit_by = "staff"
                break
            if seconds is not None and mono - t0 >= seconds:
                break
            try:
                drawn = show.frame(t, ctx.screen)
                failures = 0
            except Exception as e:  # one bad frame must not end an unattended show ...
                failures += 1
                show._error(f"frame failed: {type(e).__name__}: {e}")
                log.exception("frame failed (%d in a row)", failures)
                if failures >= MAX_FAILED_FRAMES:  # ... but a show that cannot draw exits (systemd restarts it)
                    raise GalleryError(f"{failures} frames in a row failed, last: {e}") from e
                drawn = False
            if drawn:
                pygame.display.flip()  # an unchanged picture stays on the front buffer
            clock.tick(settings.fps * 1.05)
            now = time.monotonic()
            dt = now - last_frame
            last_frame = now
            frames += 1
            if frames > 1 and dt > 1.5 / settings.fps:
                dropped += int(round(dt * settings.fps)) - 1
            fps_window.append(dt)
            del fps_window[:-120]
            if now >= next_beat:
                next_beat = now + settings.heartbeat_seconds
                fps = len(fps_window) / sum(fps_window) if sum(fps_window) > 0 else 0.0
                hb.beat({**show.status(), "fps": round(fps, 1), "frames": frames, "dropped_frames": dropped,
                         "paused": paused_at is not None, "size": [w, h]})
        status = {**show.status(), "frames": frames, "dropped_frames": dropped, "size": [w, h]}
    finally:
        show.close()
        audio.close()
        hb.close()
        r.release()
        ctx.release()
        pygame.display.quit()
    return LiveResult(frames, time.monotonic() - t0, status, quit_by)
