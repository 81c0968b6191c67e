"""Benchmarks of the show (prints tables): frame times on this machine's GL, A/V offset, memory over time.

    .venv/bin/python bench/installation.py [--frames 120] [--transitions 1000] [--quick] [--crossfades-only] [--lp-threads 0,1]

1. Crossfades at 1920x1080, the same two fitted pictures, side by side (frame by frame in turn): pygame
   alone (software Surface alpha blit; in a window presented SDL's default way, which on X11 draws the
   surface through SDL's own GL renderer, and with SDL_FRAMEBUFFER_ACCELERATION=0, by X11 shared memory)
   against GL variants (the show's renderer; two blended passes; a blit + one blended pass; both pictures
   in one texture), both presented in real windows under Xvfb (flip, then XSync: the frame is on the X
   server's screen) and both drawn into memory (no presentation); p50/p99, frames/s, CPU per frame (the
   drawing process, not the X server), the ratio to pygame, each variant's pixel error against the exact
   mix; load averages. Then frame times of a still and of video playback (H.264 decode on the worker
   thread, upload, draw), 1080p video drawn 1:1 beside the former linear-filtered way.
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
SECTION_FRAMES_WARMUP = 5


def pct(times: list[float]) -> tuple[float, float, float]:
    a = np.array(times) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99)), 1000 / float(np.mean(a))


def pictures() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two 512 px pictures and the same two fitted to the screen (cover: no bars), RGBA, top row first."""
    from generator import procedural
    from installation.media import fit_picture

    p1, p2 = procedural.draw(1, 512), procedural.draw(2, 512)
    return p1, p2, fit_picture(p1, W, H, "cover"), fit_picture(p2, W, H, "cover")


# ---- crossfade variants: the same frames drawn by pygame alone and by GL ------------------------------------

COPY_VERT = """
#version 330
in vec2 pos;
out vec2 uv;
uniform float flip;  // 1: the texture's row 0 is the picture's top
void main() {
    uv = vec2(pos.x, flip > 0.5 ? 1.0 - pos.y : pos.y);
    gl_Position = vec4(pos * 2.0 - 1.0, 0.0, 1.0);
}
"""
COPY_FRAG = """
#version 330
in vec2 uv;
out vec4 colour;
uniform sampler2D tex;
void main() { colour = texture(tex, uv); }
"""


def raw_gl():  # noqa: ANN201
    """The two GL calls moderngl does not wrap (glBlendColor, glBlitFramebuffer), through libglvnd; None if absent."""
    import ctypes

    for name in ("libOpenGL.so.0", "libGL.so.1"):
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.glBlendColor.argtypes = [ctypes.c_float] * 4
        lib.glBindFramebuffer.argtypes = [ctypes.c_uint, ctypes.c_uint]
        lib.glBlitFramebuffer.argtypes = [ctypes.c_int] * 8 + [ctypes.c_uint, ctypes.c_uint]
        return lib
    return None


class GLCrossfades:
    """GL crossfade variants into ``target`` (an offscreen framebuffer or the window's ``ctx.screen``).

    - the show's renderer, both pictures fitted to the screen on the decode thread (one pass, a mix per pixel);
    - the same drawn from two textures, as before;
    - the show's renderer, 512 px pictures scaled by the GPU;
    - two passes: A copied, then B drawn over it with constant-alpha blending (glBlendColor), each pass a
      plain textured rectangle (the shape Mesa's "linear" fast path is written for);
    - A put by glBlitFramebuffer (a memory copy when the formats match), then the blended B pass.
    The show's renderer reads two stills from one interleaved texture (one fetch per pixel); the row
    "two textures (before)" draws the same pictures as it did before (and still does for video frames).
    """

    def __init__(self, ctx, target, pics) -> None:  # noqa: ANN001
        import moderngl

        from installation.render import Renderer

        p1, p2, f1, f2 = pics
        self.ctx, self.target, self.mgl = ctx, target, moderngl
        self.fitted, self.scaled = Renderer(ctx, W, H, "cover"), Renderer(ctx, W, H, "cover")
        self.fitted.upload(0, f1, still=True)  # as the show uploads stills
        self.fitted.upload(1, f2, still=True)
        self.two_tex = Renderer(ctx, W, H, "cover")  # the same pictures as video frames: two textures
        self.two_tex.upload(0, f1)
        self.two_tex.upload(1, f2)
        self.scaled.upload(0, p1)
        self.scaled.upload(1, p2)
        self.gl = raw_gl()
        self.prog = ctx.program(vertex_shader=COPY_VERT, fragment_shader=COPY_FRAG)
        self.vbo = ctx.buffer(np.array([0, 0, 1, 0, 1, 1, 0, 1], "f4").tobytes())  # a fan: one rectangle
        self.vao = ctx.vertex_array(self.prog, [(self.vbo, "2f", "pos")])
        self.tex = []
        for f in (f1, f2):
            t = ctx.texture((W, H), 4, np.ascontiguousarray(f).tobytes(), alignment=1)
            t.filter = (moderngl.NEAREST, moderngl.NEAREST)
            t.repeat_x = t.repeat_y = False
            self.tex.append(t)
        # A stored bottom row first, so a blit (which copies rows as they are) shows it upright
        self.tex_a_up = ctx.texture((W, H), 4, np.ascontiguousarray(f1[::-1]).tobytes(), alignment=1)
        self.fbo_a = ctx.framebuffer(color_attachments=[self.tex_a_up])

    def variants(self) -> dict:
        v = {SHOW_GL: lambda t: self.fitted.draw(self.target, a=0, b=1, t=t),
             "GL, show renderer: fitted 1:1, two textures (before)":
                 lambda t: self.two_tex.draw(self.target, a=0, b=1, t=t),
             "GL, show renderer: 512 px scaled by the GPU": lambda t: self.scaled.draw(self.target, a=0, b=1, t=t)}
        if self.gl is not None:
            v["GL, two passes: copy A, B at constant alpha"] = self.two_pass
            v["GL, blit A + B at constant alpha"] = self.blit_blend
        return v

    def _copy(self, tex, flip: bool) -> None:  # noqa: ANN001
        self.prog["flip"] = 1.0 if flip else 0.0
        tex.use(location=0)
        self.vao.render(self.mgl.TRIANGLE_FAN)

    def _blend_b(self, t: float) -> None:
        ctx = self.ctx
        ctx.enable(self.mgl.BLEND)
        ctx.blend_func = 0x8003, 0x8004  # GL_CONSTANT_ALPHA, GL_ONE_MINUS_CONSTANT_ALPHA
        self.gl.glBlendColor(t, t, t, t)
        self._copy(self.tex[1], True)
        ctx.disable(self.mgl.BLEND)

    def two_pass(self, t: float) -> None:
        self.target.use()
        self.ctx.disable(self.mgl.BLEND)
        self._copy(self.tex[0], True)
        self._blend_b(t)

    def blit_blend(self, t: float) -> None:
        self.gl.glBindFramebuffer(0x8CA8, self.fbo_a.glo)  # GL_READ_FRAMEBUFFER
        self.gl.glBindFramebuffer(0x8CA9, self.target.glo)  # GL_DRAW_FRAMEBUFFER
        self.gl.glBlitFramebuffer(0, 0, W, H, 0, 0, W, H, 0x4000, 0x2600)  # colour, nearest
        self.target.use()
        self._blend_b(t)

    def release(self) -> None:
        self.fitted.release()
        self.scaled.release()
        self.two_tex.release()
        for o in (self.vao, self.vbo, self.prog, self.fbo_a, self.tex_a_up, *self.tex):
            o.release()


class PygameCrossfade:
    """The pygame-only software crossfade of the same fitted pictures: A blitted, B blitted over it with a
    surface alpha, into ``surface`` (the window's surface, or an offscreen one of the same pixel format)."""

    def __init__(self, surface, pics) -> None:  # noqa: ANN001
        import pygame

        _, _, f1, f2 = pics
        self.surface = surface
        self.a = pygame.image.frombuffer(np.ascontiguousarray(f1[:, :, :3]).tobytes(), (W, H), "RGB").convert(surface)
        self.b = pygame.image.frombuffer(np.ascontiguousarray(f2[:, :, :3]).tobytes(), (W, H), "RGB").convert(surface)

    def __call__(self, t: float) -> None:
        self.surface.blit(self.a, (0, 0))
        self.b.set_alpha(int(round(255 * t)))
        self.surface.blit(self.b, (0, 0))


PYGAME = "pygame only: software alpha blit"
SHOW_GL = "GL, show renderer: fitted 1:1 stills, one interleaved texture"
PYGAME_X11 = "pygame only, SDL_FRAMEBUFFER_ACCELERATION=0"  # the window surface sent by X11 shared memory


def crossfades_offscreen(frames: int) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, float]]:
    """All variants frame by frame in turn (A B C ... A B C), drawing into memory: pygame into a 32-bit
    surface, GL into a framebuffer (ctx.finish() waits for the pixels). Wall and CPU time (all threads)
    per frame, and each variant's largest pixel error against the exact mix at t=0.3."""
    import pygame

    from installation.render import headless_context, load_llvm_users_first, offscreen_target

    pics = pictures()
    load_llvm_users_first()  # before SDL's offscreen driver loads Mesa (see installation.render)
    pygame.display.init()
    pygame.display.set_mode((8, 8))
    surface = pygame.Surface((W, H), 0, 32)
    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    gl = GLCrossfades(ctx, fbo, pics)
    pg = PygameCrossfade(surface, pics)

    def finished(f):  # noqa: ANN001, ANN202
        def g(t: float) -> None:
            f(t)
            ctx.finish()
        return g

    variants = {PYGAME: pg, **{k: finished(f) for k, f in gl.variants().items()},
                "GL, show renderer 512 px + readback (recording)": lambda t: (gl.scaled.draw(fbo, a=0, b=1, t=t),
                                                                            gl.scaled.read(fbo))}
    out = run_interleaved(variants, frames)
    want = 0.7 * pics[2][:, :, :3].astype(np.float32) + 0.3 * pics[3][:, :, :3]
    err = {}
    for name, f in variants.items():
        if "512 px" in name:
            continue  # resampled by the GPU: not the same pixels as the fitted pictures
        f(0.3)
        if name == PYGAME:
            got = np.frombuffer(pygame.image.tobytes(surface, "RGB"), np.uint8).reshape(H, W, 3)
        else:
            got = gl.fitted.read(fbo)
        err[name] = float(np.abs(got.astype(np.float32) - want).max())
    gl.release()
    ctx.release()
    pygame.display.quit()
    return out, err


def square_crossfades(frames: int) -> dict[str, tuple[list[float], list[float]]]:
    """Two square 512 px pictures, ``contain`` on the 16:9 screen (most of the catalogue is square): the
    renderer now clears the bars and shades only the pictures' area; before, it shaded the whole screen.
    pygame alone blends the same 1080x1080 pictures (cv2-scaled) in the middle of a cleared surface."""
    import cv2
    import pygame

    from installation.render import Renderer, headless_context, load_llvm_users_first, offscreen_target

    p1, p2, _, _ = pictures()
    load_llvm_users_first()  # before SDL's offscreen driver loads Mesa (see installation.render)
    pygame.display.init()
    pygame.display.set_mode((8, 8))
    surface = pygame.Surface((W, H), 0, 32)
    sq = [pygame.image.frombuffer(np.ascontiguousarray(cv2.resize(p, (H, H), interpolation=cv2.INTER_CUBIC))
                                  .tobytes(), (H, H), "RGB").convert(surface) for p in (p1, p2)]
    ctx = headless_context()
    fbo = offscreen_target(ctx, W, H)
    now, before = Renderer(ctx, W, H, "contain"), Renderer(ctx, W, H, "contain")
    for r in (now, before):
        r.upload(0, p1)
        r.upload(1, p2)
    before.picture_area = lambda a, b: (0, 0, W, H)  # type: ignore[method-assign]

    def pg(t: float) -> None:
        surface.fill((0, 0, 0))
        surface.blit(sq[0], ((W - H) // 2, 0))
        sq[1].set_alpha(int(round(255 * t)))
        surface.blit(sq[1], ((W - H) // 2, 0))

    def gl(r):  # noqa: ANN001, ANN202
        def f(t: float) -> None:
            r.draw(fbo, a=0, b=1, t=t)
            ctx.finish()
        return f

    out = run_interleaved({"pygame only: square pictures, bars filled": pg,
                           "GL, show renderer: bars cleared, pictures shaded": gl(now),
                           "GL, show renderer before: whole screen shaded": gl(before)}, frames)
    now.release()
    before.release()
    ctx.release()
    pygame.display.quit()
    return out


def run_interleaved(variants: dict, frames: int) -> dict[str, tuple[list[float], list[float]]]:
    out: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in variants}
    for i in range(frames + SECTION_FRAMES_WARMUP):
        t = (i % 60 + 0.5) / 60
        for name, fn in variants.items():
            w0, c0 = time.perf_counter(), time.process_time()
            fn(t)
            if i >= SECTION_FRAMES_WARMUP:
                out[name][0].append(time.perf_counter() - w0)
                out[name][1].append(time.process_time() - c0)
    return out


# ---- the same in a real window under Xvfb: two processes in lock step -----------------------------------------

def _xsync():  # noqa: ANN202
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
            p = subprocess.Popen([sys.executable, __file__, "--child", kind], stdin=subprocess.PIPE,
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


def print_crossfades(title: str, res: dict[str, tuple[list[float], list[float]]],
                     err: dict[str, float]) -> dict[str, float]:
    """The side-by-side table, frame rates against each pygame row; returns the best GL ratio per pygame row."""
    bases = {n: pct(res[n][0])[2] for n in (PYGAME, PYGAME_X11) if n in res}
    cols = {PYGAME: "vs pygame", PYGAME_X11: "vs pygame X11"}
    w = max(len(n) for n in res)
    print(f"### {title}\n")
    print(f"| {'crossfade 1920x1080':{w}} | p50 ms | p99 ms | frames/s | CPU ms/frame | "
          + " | ".join(cols[n] for n in bases) + " | max px err |")
    print(f"|{'-' * (w + 2)}|-------:|-------:|---------:|-------------:|"
          + "|".join("-" * (len(cols[n]) + 1) + ":" for n in bases) + "|-----------:|")
    best = dict.fromkeys(bases, 0.0)
    for name, (wall, cpu) in res.items():
        p50, p99, fps = pct(wall)
        ratios = []
        for n, base in bases.items():
            if name.startswith("GL") and "readback" not in name:
                best[n] = max(best[n], fps / base)
            ratios.append(f"{fps / base:{len(cols[n]) - 1}.2f}x")
        e = f"{err[name]:10.1f}" if name in err else f"{'':10}"
        print(f"| {name:{w}} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} | {np.median(cpu) * 1000:12.1f} | "
              + " | ".join(ratios) + f" | {e} |")
    print()
    return best


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


def crossfade_tables(args: argparse.Namespace) -> None:
    print(f"## Crossfade at {W}x{H}: pygame alone against GL, the same two fitted pictures\n")
    print("Frame by frame in turn (one frame of each variant, then the next), so all meet the same load.")
    print("CPU ms/frame counts all threads of the drawing process (llvmpipe rasterises on LP_NUM_THREADS).\n")
    load0 = os.getloadavg()
    win = crossfades_window(args.frames, tuple(n for n in args.lp_threads.split(",") if n))
    load1 = os.getloadavg()
    if isinstance(win, str):
        print(f"(no window measurement: {win})\n")
        best_win = None
    else:
        best_win = print_crossfades(f"Presented in a window under Xvfb (what visitors see): drawn, flipped, on the "
                                    f"X server's screen (XSync) — load average {load0[0]:.1f} -> {load1[0]:.1f}",
                                    *win)
    off, err = crossfades_offscreen(args.frames)
    load2 = os.getloadavg()
    best_off = print_crossfades(f"Into memory, not presented: pygame into a 32-bit surface, GL into a framebuffer "
                                f"(glFinish) — load average {load1[0]:.1f} -> {load2[0]:.1f}", off, err)
    sq = square_crossfades(args.frames)
    print(f"### Two square pictures, contain (bars on the sides), into memory — load average "
          f"{os.getloadavg()[0]:.1f}\n")
    w = max(len(n) for n in sq)
    print(f"| {'crossfade 1920x1080':{w}} | p50 ms | p99 ms | frames/s | CPU ms/frame |")
    print(f"|{'-' * (w + 2)}|-------:|-------:|---------:|-------------:|")
    for name, (wall, cpu) in sq.items():
        p50, p99, fps = pct(wall)
        print(f"| {name:{w}} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} | {np.median(cpu) * 1000:12.1f} |")
    print()
    shown = ""
    if best_win is not None:
        shown = (f"{best_win[PYGAME]:.2f}x in a window (pygame with SDL's default presentation), "
                 f"{best_win[PYGAME_X11]:.2f}x (pygame by X11 shared memory), ")
    print(f"Best GL crossfade frame rate against pygame alone: {shown}{best_off[PYGAME]:.2f}x into memory "
          f"(goal >= 1.5x); load average {load2[0]:.1f} on {os.cpu_count()} cores\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--transitions", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="fewer frames and transitions")
    ap.add_argument("--crossfades-only", action="store_true", help="only the crossfade tables")
    ap.add_argument("--skip-crossfades", action="store_true", help="all but the crossfade tables")
    ap.add_argument("--lp-threads", default="", help="comma-separated LP_NUM_THREADS for extra GL windows, e.g. 0,1")
    ap.add_argument("--child", choices=["pygame", "gl"], help=argparse.SUPPRESS)  # a window of crossfades_window
    args = ap.parse_args()
    if args.child:
        window_child(args.child)
        return
    if args.quick:
        args.frames, args.transitions = 30, 100
    import moderngl

    from installation.render import headless_context

    c = headless_context()
    renderer, version = c.info["GL_RENDERER"], c.info["GL_VERSION"]
    c.release()
    print(f"# show benchmarks on {renderer}, {version} (moderngl {moderngl.__version__}), {os.cpu_count()} CPU "
          f"cores, {args.frames} frames per row\n")
    if not args.skip_crossfades:
        crossfade_tables(args)
    if args.crossfades_only:
        return
    rows = [("still on screen, redrawn every frame", *pct(show_still(args.frames, False))),
            ("still on screen, unchanged frames skipped (show)", *pct(show_still(args.frames, True)))]
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        late = {}
        for name, size in (("1080p", (W, H)), ("512x512", (512, 512))):
            p = tmp / f"{name}.mp4"
            make_video(p, size, seconds=max(2.0, args.frames / 30 + 0.5))
            runs = [{f"video {name} 30 fps (decode thread + upload + draw)": False}]
            if size == (W, H):  # and the change, both played at once (two decoders: slower than the show)
                runs.append({"video 1080p, 2 at once: drawn 1:1 (nearest)": False,
                             "video 1080p, 2 at once: before, scaled (linear)": True})
            for variants in runs:
                for n, (times, late[n]) in gl_videos(p, args.frames, variants).items():
                    rows.append((n, *pct(times)))
        print(f"## Frame time at {W}x{H}, headless (EGL framebuffer) — load average {os.getloadavg()[0]:.1f}\n")
        print(f"| {'path':52} | p50 ms | p99 ms | frames/s |")
        print(f"|{'-' * 54}|-------:|-------:|---------:|")
        for name, p50, p99, fps in rows:
            print(f"| {name:52} | {p50:6.1f} | {p99:6.1f} | {fps:8.1f} |")
        print(f"\nvideo frames not decoded in time (shown late, the previous frame held): {late}; "
              f"goal: 1080p video p99 < 33 ms\n")
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
