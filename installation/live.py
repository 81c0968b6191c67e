"""The show in a pygame window (OpenGL 3.3 core, drawn by moderngl): fullscreen on a display, or windowed.

Staff keys (installation.control.KEY_COMMANDS): Right/N next, Left/P previous, Space pause, L label on/off,
H/F1 the help overlay, Q/Esc quit (press twice). Keys and the HTTP control API (installation.api) go through
one dispatcher, drained by the render loop each frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery.errors import BadInput, GalleryError
from gallery.tokens import require_token
from installation.audio import LiveAudio
from installation.control import KEY_COMMANDS, Controller, Dispatcher
from installation.glsync import gil_free_finish
from installation.heartbeat import Heartbeat
from installation.programme import CatalogueSource
from installation.render import Renderer
from installation.settings import ShowSettings
from installation.show import Show

log = logging.getLogger(__name__)
MAX_FAILED_FRAMES = 60


def open_window(width: int, height: int, fullscreen: bool, display: int, *,
                fit: bool = False) -> tuple[Any, tuple[int, int]]:
    """A GL 3.3 window on ``display``: fullscreen at the display's desktop size, or a window that fits that
    screen (:func:`installation.windows.window_size`; ``fit``: as large as the screen allows at the aspect of
    ``width`` x ``height``, else that size, shrunk if it does not fit). Returns the context and its size."""
    import os

    import moderngl
    import pygame

    from installation.windows import window_size

    pygame.display.init()
    n = pygame.display.get_num_displays()
    if not 0 <= display < n:
        raise BadInput(f"--display {display}: this machine has {n} display(s) (0..{n - 1})")
    desktop = pygame.display.get_desktop_sizes()[display]
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MAJOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_MINOR_VERSION, 3)
    pygame.display.gl_set_attribute(pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)
    pygame.display.gl_set_attribute(pygame.GL_DOUBLEBUFFER, 1)
    flags = pygame.OPENGL | pygame.DOUBLEBUF
    from installation.render import load_llvm_users_first

    load_llvm_users_first()  # before SDL loads Mesa (see there)
    if fullscreen:
        flags |= pygame.FULLSCREEN
        size = desktop
    else:
        size = window_size((width, height), desktop, fill=fit)
        os.environ.setdefault("SDL_VIDEO_CENTERED", "1")  # in the middle of its display
        log.info("window %dx%d on display %d (desktop %dx%d)", size[0], size[1], display, *desktop)
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
             media: Any = None, show_factory: Any = None,
             on_start: Callable[[Controller, Heartbeat], None] | None = None,
             loudness_cache: Path | None = None) -> LiveResult:
    """Run the show until quit (or for ``seconds``). ``script``: (seconds since start, key or command
    name) pairs for tests; ``show_factory`` builds the Show (tests); ``on_start`` sees the controller
    and heartbeat once the window is open; ``loudness_cache``: the file of measured loudness."""
    import pygame

    token = require_token(settings.control_host, settings.token_env, setting="show.token_env")
    ctx, (w, h) = open_window(width or settings.width, height or settings.height, fullscreen, display,
                              fit=width is None and height is None)
    r = Renderer(ctx, w, h, settings.fit)
    try:
        audio: Any = LiveAudio(settings.sample_rate, settings.volume)
    except pygame.error as e:
        raise GalleryError(f"cannot open the sound output ({e}); set SDL_AUDIODRIVER=dummy for a silent show") from e
    hb = Heartbeat(status_file, settings.http_port if http_port is None else http_port,
                   stale_after=max(10.0, 5 * settings.heartbeat_seconds), host=settings.control_host, token=token)
    make = show_factory or Show
    show = make(settings, r, audio, source=CatalogueSource(catalogue, settings), catalogue=catalogue, live=True,
                media=media, loudness_cache=loudness_cache)
    script = sorted(script or [])
    clock = pygame.time.Clock()
    t0 = time.monotonic()
    frames = dropped = 0
    last_frame = time.monotonic()
    next_beat = 0.0
    fps_window: list[float] = []

    def full_status() -> dict[str, Any]:
        fps = len(fps_window) / sum(fps_window) if sum(fps_window) > 0 else 0.0
        names = getattr(show, "programme_names", None)
        return {**show.status(), "fps": round(fps, 1), "frames": frames, "dropped_frames": dropped,
                "size": [w, h], **({"programmes": names()} if names is not None else {})}

    control = Controller(show, audio, Dispatcher(), status=full_status, on_change=hb.beat)
    finish = gil_free_finish() or ctx.finish  # the frame rasterised while the HTTP threads may run
    hb.control = control.dispatcher
    if on_start is not None:
        on_start(control, hb)
    quit_by = "time"
    failures = 0
    try:
        while True:
            mono = time.monotonic()
            for ev in pygame.event.get(pygame.KEYDOWN):
                name = KEY_COMMANDS.get(pygame.key.name(ev.key))
                if name is not None:
                    control.submit(name, source="key")
            if any(ev.type == pygame.QUIT for ev in pygame.event.get()):
                quit_by = "window"
                break
            while script and script[0][0] <= mono - t0:
                what = script.pop(0)[1]
                control.submit(KEY_COMMANDS.get(what, what), source="script")
            t, stop = control.step(mono - t0)
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
                finish()
                pygame.display.flip()  # an unchanged picture stays on the front buffer
            control.after_frame()  # a skip is answered once its new item is on screen
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
                hb.beat(full_status())
        status = {**show.status(), "frames": frames, "dropped_frames": dropped, "size": [w, h]}
    finally:
        hb.control = None
        control.close()
        show.close()
        audio.close()
        hb.close()
        r.release()
        ctx.release()
        pygame.display.quit()
    return LiveResult(frames, time.monotonic() - t0, status, quit_by)
