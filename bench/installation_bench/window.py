"""The crossfades presented in real 1920x1080 windows under Xvfb: two processes driven in lock step.

``crossfades_window`` starts Xvfb and one child process per window (``bench/installation.py --child KIND``);
``window_child`` is what such a child runs.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from bench.installation_bench.crossfades import (
    PYGAME,
    PYGAME_X11,
    SECTION_FRAMES_WARMUP,
    SHOW_GL,
    GLCrossfades,
    H,
    PygameCrossfade,
    W,
    pictures,
)

ENTRY = Path(__file__).resolve().parents[1] / "installation.py"  # the script a window's child process runs


def _xsync():
    """A function that waits until the X server has done everything asked of it so far (the window's
    connection), so that a frame counts as shown only when its pixels are on the (virtual) screen."""
    import ctypes

    import pygame

    cap = pygame.display.get_wm_info()["display"]
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    display = get(cap, b"display")
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lambda: x11.XSync(display, 0)


def window_child(kind: str) -> None:
    """``--child pygame|gl``: open a 1920x1080 window, then per line 'NAME T' on stdin draw that variant,
    present it (flip, wait for the X server) and answer 'WALL CPU' (seconds)."""
    import pygame

    from installation.render import load_llvm_users_first

    pics = pictures()
    load_llvm_users_first()
    pygame.display.init()
    if kind == "pygame":
        # SDL2 on X11 shows a window surface by default through its own GL renderer (here llvmpipe: texture
        # upload + draw + swap each flip); with SDL_FRAMEBUFFER_ACCELERATION=0 it sends it by X11 shared memory
        screen = pygame.display.set_mode((W, H))
        x11 = os.environ.get("SDL_FRAMEBUFFER_ACCELERATION") == "0"
        variants = {PYGAME_X11 if x11 else PYGAME: PygameCrossfade(screen, pics)}
        gl = None
    else:
        import moderngl

        for attr, val in ((pygame.GL_CONTEXT_MAJOR_VERSION, 3), (pygame.GL_CONTEXT_MINOR_VERSION, 3),
                          (pygame.GL_CONTEXT_PROFILE_MASK, pygame.GL_CONTEXT_PROFILE_CORE)):
            pygame.display.gl_set_attribute(attr, val)
        pygame.display.set_mode((W, H), pygame.OPENGL | pygame.DOUBLEBUF)
        ctx = moderngl.create_context(require=330)
        gl = GLCrossfades(ctx, ctx.screen, pics)
        variants = gl.variants()
        if "LP_NUM_THREADS" in os.environ:  # an extra GL window with its own rasteriser thread count
            keep = (SHOW_GL, "GL, show renderer: fitted 1:1, two textures (before)")
            variants = {f"{k} [LP_NUM_THREADS={os.environ['LP_NUM_THREADS']}]": v for k, v in variants.items()
                        if k in keep}
    sync = _xsync()
    print("ready " + "|".join(variants), flush=True)
    want = 0.7 * pics[2][:, :, :3].astype(np.float32) + 0.3 * pics[3][:, :, :3]
    for line in sys.stdin:
        name, t = line.rstrip("\n").rsplit(" ", 1)
        if t == "check":  # draw at t=0.3 and answer the largest pixel error against the exact mix
            variants[name](0.3)
            if gl is None:
                got = np.frombuffer(pygame.image.tobytes(screen, "RGB"), np.uint8).reshape(H, W, 3)
            else:
                got = np.frombuffer(ctx.screen.read(components=3, alignment=1), np.uint8).reshape(H, W, 3)[::-1]
            print(float(np.abs(got.astype(np.float32) - want).max()), flush=True)
            continue
        w0, c0 = time.perf_counter(), time.process_time()
        variants[name](float(t))
        pygame.display.flip()
        sync()
        print(f"{time.perf_counter() - w0} {time.process_time() - c0}", flush=True)
    if gl is not None:
        gl.release()
    pygame.display.quit()


def crossfades_window(frames: int, lp_threads: tuple[str, ...] = ()) -> \
        tuple[dict[str, tuple[list[float], list[float]]], dict[str, float]] | str:
    """pygame-only and GL in real 1920x1080 windows on one Xvfb screen, as visitors would see them: each
    frame drawn, flipped and on the X server's screen. Two processes (one window each) driven in lock
    step, one frame of each variant in turn, so they meet the same load; then each variant's largest pixel
    error against the exact mix at t=0.3 (read back before the flip). ``lp_threads``: more GL windows with
    these LP_NUM_THREADS (llvmpipe's rasteriser threads; default one per core). A reason string if no Xvfb."""
    import shutil
    import subprocess

    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        return "no Xvfb on this machine"
    server = subprocess.Popen([xvfb, "-displayfd", "1", "-screen", "0", f"{W}x{H}x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children: list[subprocess.Popen] = []
    try:
        display = server.stdout.readline().strip()  # type: ignore[union-attr]
        if not display:
            return "Xvfb did not start"
        env = {**os.environ, "DISPLAY": f":{display}", "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy",
               "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
        order: list[tuple[subprocess.Popen, str]] = []
        env.pop("LP_NUM_THREADS", None)
        kinds = [("pygame", {}), ("pygame", {"SDL_FRAMEBUFFER_ACCELERATION": "0"}), ("gl", {})]
        kinds += [("gl", {"LP_NUM_THREADS": n}) for n in lp_threads]
        for kind, extra in kinds:
            p = subprocess.Popen([sys.executable, str(ENTRY), "--child", kind], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, env={**env, **extra}, text=True)
            children.append(p)
            ready = p.stdout.readline().strip()  # type: ignore[union-attr]
            if not ready.startswith("ready "):
                return f"the {kind} window did not open"
            order += [(p, name) for name in ready[len("ready "):].split("|")]
        out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for _, name in order}
        for i in range(frames + SECTION_FRAMES_WARMUP):
            t = (i % 60 + 0.5) / 60
            for p, name in order:
                p.stdin.write(f"{name} {t}\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
                wall, cpu = map(float, p.stdout.readline().split())  # type: ignore[union-attr]
                if i >= SECTION_FRAMES_WARMUP:
                    out[name][0].append(wall)
                    out[name][1].append(cpu)
        err = {}
        for p, name in order:
            if "512 px" not in name:  # resampled by the GPU: not the same pixels as the fitted pictures
                p.stdin.write(f"{name} check\n")  # type: ignore[union-attr]
                p.stdin.flush()  # type: ignore[union-attr]
                err[name] = float(p.stdout.readline())  # type: ignore[union-attr]
        return out, err
    finally:
        for p in children:
            if p.stdin:
                p.stdin.close()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        server.terminate()
        server.wait(timeout=20)
