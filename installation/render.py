"""The moderngl renderer: two picture slots fitted cover/contain, shader transitions, a fading label.

One code path for a pygame window (draw into ``ctx.screen``) and headless EGL (draw into an
offscreen framebuffer and read it back). Slot textures are reused: a new picture of the same size is
written into the existing texture (video frames never allocate), so GL objects stay constant.
"""

from __future__ import annotations

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

FRAG = """
#version 330
in vec2 uv;
out vec4 colour;
uniform sampler2D texA;
uniform sampler2D texB;
uniform vec2 scaleA;
uniform vec2 scaleB;
uniform bool hasA;
uniform bool hasB;
uniform float t;      // transition progress: 0 shows A, 1 shows B
uniform int mode;     // 0 crossfade, 1 wipe, 2 dissolve
uniform float dim;    // brightness multiplier
uniform vec2 screen;  // pixels, for the dissolve pattern

vec3 fitted(sampler2D tex, vec2 scale, bool has) {
    if (!has) return vec3(0.0);
    vec2 p = (uv - 0.5) * scale + 0.5;
    if (p.x < 0.0 || p.x > 1.0 || p.y < 0.0 || p.y > 1.0) return vec3(0.0);
    return texture(tex, vec2(p.x, 1.0 - p.y)).rgb;  // row 0 of an image is its top
}

float hash(vec2 p) {
    return fract(sin(dot(p, vec2(12.9898, 78.233))) * 43758.5453);
}

void main() {
    vec3 a = fitted(texA, scaleA, hasA);
    vec3 b = fitted(texB, scaleB, hasB);
    float m = t;
    const float edge = 0.12;
    if (mode == 1) {
        m = clamp((t * (1.0 + edge) - uv.x) / edge, 0.0, 1.0);
    } else if (mode == 2) {
        float n = hash(floor(uv * screen / 3.0));
        m = clamp((t * (1.0 + edge) - n) / edge, 0.0, 1.0);
    }
    colour = vec4(mix(a, b, m) * dim, 1.0);
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


class Renderer:
    def __init__(self, ctx, width: int, height: int, fit: str = "contain") -> None:  # noqa: ANN001
        import moderngl

        self.ctx = ctx
        self.width, self.height, self.fit = width, height, fit
        self.prog = ctx.program(vertex_shader=VERT, fragment_shader=FRAG)
        self.text_prog = ctx.program(vertex_shader=VERT, fragment_shader=TEXT_FRAG)
        quad = np.array([0, 0, 1, 0, 0, 1, 1, 1], dtype="f4")
        self.vbo = ctx.buffer(quad.tobytes())
        self.vao = ctx.vertex_array(self.prog, [(self.vbo, "2f", "pos")])
        self.text_vao = ctx.vertex_array(self.text_prog, [(self.vbo, "2f", "pos")])
        self.prog["texA"] = 0
        self.prog["texB"] = 1
        self.text_prog["tex"] = 2
        self.slots: list = [None, None]
        self.sizes: list[tuple[int, int] | None] = [None, None]
        self.texts: dict[str, tuple] = {}  # name -> (texture, w, h, key)
        self.textures_created = 0
        self.textures_released = 0
        self._moderngl = moderngl
        self._font_cache: dict[int, object] = {}

    # ---- pictures -----------------------------------------------------------------------------
    def upload(self, slot: int, rgb: np.ndarray) -> None:
        """Put an RGB uint8 picture in a slot, reusing its texture when the size matches."""
        h, w = rgb.shape[:2]
        data = np.ascontiguousarray(rgb, dtype=np.uint8)
        tex = self.slots[slot]
        if tex is not None and self.sizes[slot] == (w, h):
            tex.write(data)
            return
        if tex is not None:
            tex.release()
            self.textures_released += 1
        tex = self.ctx.texture((w, h), 3, data, alignment=1)
        tex.filter = (self._moderngl.LINEAR, self._moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        self.textures_created += 1
        self.slots[slot] = tex
        self.sizes[slot] = (w, h)

    def clear_slot(self, slot: int) -> None:
        self.sizes[slot] = self.sizes[slot]  # keep the texture for reuse; drawing checks has*

    # ---- text -----------------------------------------------------------------------------------
    def _font(self, px: int):  # noqa: ANN202
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
        surfs = []
        for i, line in enumerate(lines):
            if not line:
                continue
            f = self._font(int(base * (1.3 if i == 0 else 1.0)))
            surfs.append(f.render(line, True, colour))
        if not surfs:
            return
        pad = base // 2
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
    def draw(self, fbo, *, a: int | None, b: int | None, t: float = 0.0, mode: str = "crossfade",  # noqa: ANN001
             dim: float = 1.0, texts: dict[str, tuple[float, str]] | None = None) -> None:
        """Draw slot ``a`` going to slot ``b`` at progress ``t``; texts: name -> (alpha, placement)."""
        fbo.use()
        fbo.clear(0.0, 0.0, 0.0, 1.0)
        self.ctx.disable(self._moderngl.BLEND)
        p = self.prog
        for slot, name in ((a, "A"), (b, "B")):
            has = slot is not None and self.slots[slot] is not None
            p["has" + name] = has
            if has:
                w, h = self.sizes[slot]
                p["scale" + name] = fit_scale(w, h, self.width, self.height, self.fit)
                self.slots[slot].use(location=0 if name == "A" else 1)
        p["t"] = float(min(max(t, 0.0), 1.0))
        p["mode"] = TRANSITIONS.index(mode)
        p["dim"] = float(dim)
        p["screen"] = (float(self.width), float(self.height))
        p["rect"] = (-1.0, -1.0, 2.0, 2.0)
        self.vao.render(self._moderngl.TRIANGLE_STRIP)
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

    def read(self, fbo) -> np.ndarray:  # noqa: ANN001
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
        for tex, *_ in self.texts.values():
            tex.release()
            self.textures_released += 1
        self.texts.clear()
        for obj in (self.vao, self.text_vao, self.vbo, self.prog, self.text_prog):
            obj.release()


def headless_context():  # noqa: ANN201
    """A standalone OpenGL 3.3+ context through EGL (llvmpipe without a GPU)."""
    import moderngl

    return moderngl.create_standalone_context(backend="egl", require=330)


def offscreen_target(ctx, width: int, height: int):  # noqa: ANN001, ANN201
    return ctx.simple_framebuffer((width, height), components=4)
