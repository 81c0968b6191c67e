"""The moderngl renderer: two picture slots fitted cover/contain, shader transitions, a fading label.

One code path for a pygame window (draw into ``ctx.screen``) and headless EGL (draw into an
offscreen framebuffer and read it back). Slot textures are reused: a new picture of the same size is
written into the existing texture (video frames never allocate), so GL objects stay constant.
"""

from __future__ import annotations

import math

import numpy as np

from installation.settings import TRANSITIONS

VERT = """
#version 330
in vec2 pos;
out vec2 uv;
uniform vec4 rect;  // x, y, w, h in clip space (-1..1)
void main() {
    uv = pos;
    gl_Position = vec4(rect.xy + pos * rect.zw, 0.0, 1.0);
}
"""

# The picture pass: texture coordinates of both pictures are worked out per vertex (fit + flip), so a
# fragment does two texture reads and a mix; each transition is its own small program (no branching).
PICTURE_VERT = """
#version 330
in vec2 pos;
out vec2 uv;
out vec2 uvA;
out vec2 uvB;
uniform vec2 scaleA;
uniform vec2 scaleB;
uniform vec4 area;  // the part of the screen drawn (x, y, w, h in 0..1): the pictures, not their bars
void main() {
    vec2 q = area.xy + pos * area.zw;  // screen position, 0..1
    uv = q;
    vec2 pa = (q - 0.5) * scaleA + 0.5;
    vec2 pb = (q - 0.5) * scaleB + 0.5;
    uvA = vec2(pa.x, 1.0 - pa.y);  // row 0 of an image is its top
    uvB = vec2(pb.x, 1.0 - pb.y);
    gl_Position = vec4(q * 2.0 - 1.0, 0.0, 1.0);
}
"""

PICTURE_FRAG = """
#version 330
in vec2 uv;
in vec2 uvA;
in vec2 uvB;
out vec4 colour;
uniform sampler2D texA;
uniform sampler2D texB;
uniform float t;      // transition progress: 0 shows A, 1 shows B
uniform float dim;    // brightness multiplier
uniform vec2 screen;  // pixels, for the dissolve pattern
#if PAIR  // both stills interleaved in one texture: .x picture A's RGBA8 texel, .y picture B's
uniform usampler2D pair;
vec3 unpack8(uint v) { return vec3(uvec3(v, v >> 8u, v >> 16u) & 255u) / 255.0; }
#endif

float inside(vec2 p) {  // 1 inside the picture, 0 on the bars of a contain fit
    vec2 s = step(vec2(0.0), p) * step(p, vec2(1.0));
    return s.x * s.y;
}

void main() {
#if PAIR  // one texture fetch for both pictures (a software rasteriser's costliest step)
    uvec2 v = texture(pair, uvA).xy;
    vec3 a = unpack8(v.x);
#elif EXACT  // both pictures fitted to the screen already: one texel per pixel, no bars to cut
    vec3 a = texture(texA, uvA).rgb;
#else
    vec3 a = texture(texA, uvA).rgb * inside(uvA);
#endif
#if MODE == 0
    colour = vec4(a * dim, 1.0);
#else
#if PAIR
    vec3 b = unpack8(v.y);
#elif EXACT
    vec3 b = texture(texB, uvA).rgb;  // same 1:1 mapping as a
#else
    vec3 b = texture(texB, uvB).rgb * inside(uvB);
#endif
    const float edge = 0.12;
#if MODE == 1
    float m = t;
#elif MODE == 2
    float m = clamp((t * (1.0 + edge) - uv.x) / edge, 0.0, 1.0);
#else
    float n = fract(sin(dot(floor(uv * screen / 3.0), vec2(12.9898, 78.233))) * 43758.5453);
    float m = clamp((t * (1.0 + edge) - n) / edge, 0.0, 1.0);
#endif
    colour = vec4(mix(a, b, m) * dim, 1.0);
#endif
}
"""

TEXT_FRAG = """
#version 330
in vec2 uv;
out vec4 colour;
uniform sampler2D tex;
uniform float alpha;
void main() {
    vec4 c = texture(tex, vec2(uv.x, 1.0 - uv.y));
    colour = vec4(c.rgb, c.a * alpha);
}
"""


def fit_scale(img_w: int, img_h: int, out_w: int, out_h: int, fit: str) -> tuple[float, float]:
    """UV scale that maps screen coordinates to image coordinates for cover / contain."""
    s, i = out_w / out_h, img_w / img_h
    if fit == "contain":
        return (1.0, i / s) if i > s else (s / i, 1.0)
    if fit == "cover":
        return (s / i, 1.0) if i > s else (1.0, i / s)
    raise ValueError(f"fit must be cover or contain, not {fit!r}")


def wrap_text(line: str, room: int, width_of, max_lines: int = 3) -> list[str]:
    """``line`` in lines at most ``room`` wide (``width_of(text)`` in pixels), broken between words, at most
    ``max_lines`` of them (the last ends with an ellipsis when words are left over)."""
    out: list[str] = []
    cur = ""
    words = line.split()
    for k, word in enumerate(words):
        trial = f"{cur} {word}" if cur else word
        if cur and width_of(trial) > room:
            if len(out) == max_lines - 1:
                cur = f"{cur} {' '.join(words[k:])}"
                break
            out.append(cur)
            cur = word
        else:
            cur = trial
    if cur:
        out.append(cur)
    for i, text in enumerate(out):  # the last line's leftover words (or one very long word) cut to fit
        while width_of(text) > room and len(text) > 1:
            text = text.removesuffix("\u2026")[:-1].rstrip() + "\u2026"
        out[i] = text
    return out


class Renderer:
    def __init__(self, ctx, width: int, height: int, fit: str = "contain") -> None:
        import moderngl

        self.ctx = ctx
        self.width, self.height, self.fit = width, height, fit
        self.text_prog = ctx.program(vertex_shader=VERT, fragment_shader=TEXT_FRAG)
        quad = np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4")
        self.vbo = ctx.buffer(quad.tobytes())
        # program 2 * m + exact: m = 0 one picture, 1 + i transition i of TRANSITIONS; exact: every
        # picture drawn is fitted to the screen (the cheaper shader)
        # and after them, program 2 * (1 + len(TRANSITIONS)) + m - 1: transition m between two screen-size
        # stills interleaved in one texture (see _pack)
        self.progs = [ctx.program(vertex_shader=PICTURE_VERT, fragment_shader=PICTURE_FRAG.replace(
            "#version 330", f"#version 330\n#define MODE {m}\n#define EXACT {e}\n#define PAIR 0", 1))
            for m in range(1 + len(TRANSITIONS)) for e in (0, 1)]
        self.progs += [ctx.program(vertex_shader=PICTURE_VERT, fragment_shader=PICTURE_FRAG.replace(
            "#version 330", f"#version 330\n#define MODE {m}\n#define EXACT 1\n#define PAIR 1", 1))
            for m in range(1, 1 + len(TRANSITIONS))]
        self.vaos = [ctx.vertex_array(p, [(self.vbo, "2f", "pos")]) for p in self.progs]
        self.exact = [False, False]
        for p in self.progs:
            for name, unit in (("texA", 0), ("texB", 1), ("pair", 3)):
                if name in p:
                    p[name] = unit
        # Interleaving two stills saves a software rasteriser a texture fetch per pixel; a GPU fetches for
        # nothing, and packing on the CPU (tens of ms at 4K) would only cost it frames.
        renderer = str(ctx.info.get("GL_RENDERER", "")).lower()
        self.pack_stills = any(n in renderer for n in ("llvmpipe", "softpipe", "swrast", "swiftshader"))
        self.stills: list[np.ndarray | None] = [None, None]  # screen-size RGBA stills, for _pack
        self.generation = [0, 0]  # bumped by every upload
        self.pair = None  # RG32UI texture: both stills interleaved
        self._pair_data: np.ndarray | None = None
        self._pair_key: tuple | None = None
        self.text_vao = ctx.vertex_array(self.text_prog, [(self.vbo, "2f", "pos")])
        self.text_prog["tex"] = 2
        self.slots: list = [None, None]
        self._targets: list = [None, None]  # (texture, framebuffer) drawing into a slot (see target)
        self.sizes: list[tuple[int, int] | None] = [None, None]
        self.texts: dict[str, tuple] = {}  # name -> (texture, w, h, key)
        self.textures_created = 0
        self.textures_released = 0
        self._moderngl = moderngl
        self._font_cache: dict[int, object] = {}

    # ---- pictures -----------------------------------------------------------------------------
    def upload(self, slot: int, rgb: np.ndarray, still: bool = False) -> None:
        """Put an RGB (or RGBA) uint8 picture in a slot, reusing its texture when size and format match.

        A picture of exactly the screen's size (a still fitted by media.fit_picture, a 1080p video frame
        on a 1080p screen) is drawn texel for texel: nearest sampling and the shader without fitting,
        the same pixels as linear filtering at texel centres but about 30% less work for llvmpipe
        (bench/installation.py). Any other size is scaled by the GPU (linear filtering). ``still``: the
        picture stays (not a video frame): a transition between two screen-size RGBA stills then reads
        both from one interleaved texture (one fetch per pixel instead of two; see _pack).
        """
        h, w = rgb.shape[:2]
        comps = rgb.shape[2]
        data = np.ascontiguousarray(rgb, dtype=np.uint8)
        exact = (w, h) == (self.width, self.height)
        tex = self.slots[slot]
        key = (w, h, comps)
        if tex is not None and self.sizes[slot] == (w, h) and tex.components == comps:
            tex.write(data)
        else:
            if tex is not None:
                tex.release()
                self.textures_released += 1
            tex = self.ctx.texture((w, h), comps, data, alignment=1)
            self.textures_created += 1
            tex.repeat_x = tex.repeat_y = False
            self.slots[slot] = tex
            self.sizes[slot] = key[:2]
        f = self._moderngl.NEAREST if exact or self._one_to_one(w, h) else self._moderngl.LINEAR
        tex.filter = (f, f)
        self.exact[slot] = exact
        self.stills[slot] = data if still and exact and comps == 4 and self.pack_stills else None
        self.generation[slot] += 1

    def target(self, slot: int):
        """A framebuffer that draws into slot's texture, made a screen-size RGBA picture drawn texel for
        texel: a view drawn on the GPU each frame (installation.soundview) without uploading pixels."""
        tex = self.slots[slot]
        if tex is None or self.sizes[slot] != (self.width, self.height) or tex.components != 4:
            if tex is not None:
                tex.release()
                self.textures_released += 1
            tex = self.ctx.texture((self.width, self.height), 4)
            self.textures_created += 1
            tex.repeat_x = tex.repeat_y = False
            self.slots[slot], self.sizes[slot] = tex, (self.width, self.height)
        if self._targets[slot] is None or self._targets[slot][0] is not tex:
            if self._targets[slot] is not None:
                self._targets[slot][1].release()
            self._targets[slot] = (tex, self.ctx.framebuffer(color_attachments=[tex]))
        tex.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
        self.exact[slot], self.stills[slot] = True, None
        self.generation[slot] += 1
        return self._targets[slot][1]

    def _pack(self, a: int, b: int) -> None:
        """Interleave the stills of slots a and b into the pair texture (once per pair: ~5 ms at 1080p)."""
        key = (a, self.generation[a], b, self.generation[b])
        if key == self._pair_key:
            return
        if self._pair_data is None:
            self._pair_data = np.empty((self.height, self.width, 2), np.uint32)
        self._pair_data[:, :, 0] = self.stills[a].view(np.uint32)[:, :, 0]  # type: ignore[union-attr]
        self._pair_data[:, :, 1] = self.stills[b].view(np.uint32)[:, :, 0]  # type: ignore[union-attr]
        if self.pair is None:
            self.pair = self.ctx.texture((self.width, self.height), 2, self._pair_data, dtype="u4")
            self.pair.filter = (self._moderngl.NEAREST, self._moderngl.NEAREST)
            self.pair.repeat_x = self.pair.repeat_y = False
            self.textures_created += 1
        else:
            self.pair.write(self._pair_data)
        self._pair_key = key

    def _one_to_one(self, w: int, h: int) -> bool:
        """Whether a w x h picture lands texel on pixel (unscaled, a whole-pixel offset: e.g. a big square
        still shrunk to 1080x1080 on a 1080p screen): nearest sampling then gives linear's pixels, cheaper."""
        sx, sy = fit_scale(w, h, self.width, self.height, self.fit)
        return (math.isclose(sx * w, self.width) and math.isclose(sy * h, self.height)
                and (self.width - w) % 2 == 0 and (self.height - h) % 2 == 0)

    # ---- text -----------------------------------------------------------------------------------
    def _font(self, px: int):
        import pygame

        if not pygame.font.get_init():
            pygame.font.init()
        if px not in self._font_cache:
            self._font_cache[px] = pygame.font.Font(None, px)
        return self._font_cache[px]

    def set_text(self, name: str, lines: tuple[str, ...] | None, px: int | None = None,
                 colour: tuple[int, int, int] = (240, 240, 235)) -> None:
        """Render lines of text (first line larger) into the named text texture; None removes it."""
        key = (lines, px, colour)
        old = self.texts.get(name)
        if old is not None and old[3] == key:
            return
        if old is not None:
            old[0].release()
            self.textures_released += 1
            del self.texts[name]
        if not lines:
            return
        import pygame

        base = px or max(12, self.height // 36)
        pad = base // 2
        room = max(base * 4, self.width - 2 * (self.height // 20) - 2 * pad)  # a label stays on the screen
        surfs = []
        for i, line in enumerate(lines):
            if not line:
                continue
            f = self._font(int(base * (1.3 if i == 0 else 1.0)))
            surfs += [f.render(part, True, colour) for part in wrap_text(line, room, lambda t, f=f: f.size(t)[0])]
        if not surfs:
            return
        w = max(s.get_width() for s in surfs) + 2 * pad
        h = sum(s.get_height() for s in surfs) + 2 * pad
        card = pygame.Surface((w, h), pygame.SRCALPHA)
        card.fill((0, 0, 0, 150))
        y = pad
        for s in surfs:
            card.blit(s, (pad, y))
            y += s.get_height()
        data = pygame.image.tobytes(card, "RGBA")
        tex = self.ctx.texture((w, h), 4, data, alignment=1)
        self.textures_created += 1
        self.texts[name] = (tex, w, h, key)

    # ---- drawing --------------------------------------------------------------------------------
    def draw(self, fbo, *, a: int | None, b: int | None, t: float = 0.0, mode: str = "crossfade",
             dim: float = 1.0, texts: dict[str, tuple[float, str]] | None = None, keep: bool = False) -> None:
        """Draw slot ``a`` going to slot ``b`` at progress ``t``; texts: name -> (alpha, placement).
        ``keep`` (with no slots): the picture is in fbo already (a sound view drew it there); texts only."""
        fbo.use()
        self.ctx.disable(self._moderngl.BLEND)
        has_a = a is not None and self.slots[a] is not None
        has_b = b is not None and self.slots[b] is not None
        if not (has_a or has_b or keep):
            fbo.clear(0.0, 0.0, 0.0, 1.0)  # a picture pass writes every pixel (bars included) itself
        if has_a or has_b:
            if not has_a:  # fading in from black: b alone, brightened by the progress
                dim = dim * float(min(max(t, 0.0), 1.0))
                a, has_b, t = b, False, 0.0
            tb = float(min(max(t, 0.0), 1.0))
            m = 1 + TRANSITIONS.index(mode) if has_b and tb > 0.0 else 0
            if has_b and tb >= 1.0:
                a, m = b, 0
            exact = self.exact[a] and (not m or self.exact[b])
            k = 2 * m + int(exact)
            if m and exact and self.stills[a] is not None and self.stills[b] is not None:
                self._pack(a, b)
                self.pair.use(location=3)  # type: ignore[union-attr]
                k = 2 * (1 + len(TRANSITIONS)) + m - 1
            p = self.progs[k]
            w, h = self.sizes[a]
            p["scaleA"] = fit_scale(w, h, self.width, self.height, self.fit)
            self.slots[a].use(location=0)
            if m:
                w, h = self.sizes[b]
                if "scaleB" in p:
                    p["scaleB"] = fit_scale(w, h, self.width, self.height, self.fit)
                self.slots[b].use(location=1)
                p["t"] = tb
                if "screen" in p:
                    p["screen"] = (float(self.width), float(self.height))
            elif "scaleB" in p:
                p["scaleB"] = (1.0, 1.0)
            p["dim"] = float(dim)
            x0, y0, x1, y1 = self.picture_area(a, b if m else None)
            if (x0, y0, x1, y1) != (0, 0, self.width, self.height):
                # contain bars: cleared, not shaded; a software rasteriser's work follows the area. One
                # whole clear is a fast fill in llvmpipe; a scissored one would be drawn like a picture.
                fbo.clear(0.0, 0.0, 0.0, 1.0)
            p["area"] = (x0 / self.width, y0 / self.height, (x1 - x0) / self.width, (y1 - y0) / self.height)
            self.vaos[k].render(self._moderngl.TRIANGLE_STRIP)
        if texts:
            self.ctx.enable(self._moderngl.BLEND)
            self.ctx.blend_func = self._moderngl.SRC_ALPHA, self._moderngl.ONE_MINUS_SRC_ALPHA
            for name, (alpha, place) in texts.items():
                if name not in self.texts or alpha <= 0:
                    continue
                tex, w, h, _ = self.texts[name]
                margin = self.height // 20
                if place == "label":  # bottom left, the museum label
                    x, y = margin, margin
                else:  # centred
                    x, y = (self.width - w) // 2, (self.height - h) // 2
                self.text_prog["rect"] = (-1 + 2 * x / self.width, -1 + 2 * y / self.height,
                                          2 * w / self.width, 2 * h / self.height)
                self.text_prog["alpha"] = float(alpha)
                tex.use(location=2)
                self.text_vao.render(self._moderngl.TRIANGLE_STRIP)
            self.ctx.disable(self._moderngl.BLEND)

    def picture_area(self, a: int, b: int | None) -> tuple[int, int, int, int]:
        """Pixels (x0, y0, x1, y1, GL's origin bottom left) covered by slot a's picture and b's if given,
        rounded outwards: with ``contain`` the bars around them need no shading."""
        x0 = y0 = 1.0
        x1 = y1 = 0.0
        for slot in (a, b):
            if slot is None or self.sizes[slot] is None:
                continue
            w, h = self.sizes[slot]
            sx, sy = fit_scale(w, h, self.width, self.height, self.fit)
            x0, x1 = min(x0, 0.5 - 0.5 / sx), max(x1, 0.5 + 0.5 / sx)
            y0, y1 = min(y0, 0.5 - 0.5 / sy), max(y1, 0.5 + 0.5 / sy)
        if x0 >= x1 or y0 >= y1:
            return 0, 0, self.width, self.height
        eps = 1e-4  # float noise must not cost a column of pixels
        return (max(0, math.floor(x0 * self.width + eps)), max(0, math.floor(y0 * self.height + eps)),
                min(self.width, math.ceil(x1 * self.width - eps)), min(self.height, math.ceil(y1 * self.height - eps)))

    def read(self, fbo) -> np.ndarray:
        """The framebuffer as RGB uint8 (H, W, 3), top row first."""
        raw = fbo.read(components=3, alignment=1)
        return np.frombuffer(raw, np.uint8).reshape(self.height, self.width, 3)[::-1]

    @property
    def live_textures(self) -> int:
        return self.textures_created - self.textures_released

    def release(self) -> None:
        for tex in self.slots:
            if tex is not None:
                tex.release()
                self.textures_released += 1
        self.slots = [None, None]
        for target in self._targets:
            if target is not None:
                target[1].release()
        self._targets = [None, None]
        for tex, *_ in self.texts.values():
            tex.release()
            self.textures_released += 1
        self.texts.clear()
        if self.pair is not None:
            self.pair.release()
            self.textures_released += 1
            self.pair = None
        self.stills = [None, None]
        self._pair_data = self._pair_key = None
        for obj in (*self.vaos, self.text_vao, self.vbo, *self.progs, self.text_prog):
            obj.release()


def load_llvm_users_first() -> None:
    """Load Triton's LLVM before Mesa's, so a later ``import torch`` cannot crash the process.

    Mesa's llvmpipe and Triton (pulled in by torch and torchvision) each bring an LLVM. When
    Mesa's is loaded first, importing Triton afterwards segfaults the process; the other order is
    fine. The show never needs torch, but the demo, tests and tools may import it after a GL context
    exists, so every GL context is created after this call. Importing Triton alone takes ~0.2 s.
    """
    import contextlib
    import importlib.util

    if importlib.util.find_spec("triton") is not None:
        with contextlib.suppress(Exception):  # a broken triton only matters to torch, which reports it
            import triton  # noqa: F401 - imported for its side effect: its LLVM loads first


def headless_context():
    """A standalone OpenGL 3.3+ context through EGL (llvmpipe without a GPU)."""
    import moderngl

    load_llvm_users_first()

    return moderngl.create_standalone_context(backend="egl", require=330)


def offscreen_target(ctx, width: int, height: int):
    return ctx.simple_framebuffer((width, height), components=4)
