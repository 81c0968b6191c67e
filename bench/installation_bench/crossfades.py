"""Crossfades drawn into memory: the same two fitted pictures by pygame alone and by GL variants.

Also the shared pieces of bench/installation.py: the screen size, percentiles, the test pictures, and the
frame-by-frame-in-turn loop that meets every variant with the same load.
"""

from __future__ import annotations

import time

import numpy as np

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


def raw_gl():
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

    def __init__(self, ctx, target, pics) -> None:
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

    def _copy(self, tex, flip: bool) -> None:
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

    def __init__(self, surface, pics) -> None:
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

    def finished(f):
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

    def gl(r):
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
