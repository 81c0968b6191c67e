"""Sound-only works on screen: a melody's piano roll scrolling under a playhead, a soundscape's
spectrogram with a playhead crossing it, both in time with the sound.

A melody is drawn from its notes (its ``midi`` media), not by stretching its small piano-roll PNG:
the GPU draws every note, lane and bar line as a rectangle at the show's own resolution, so the
blocks are sharp at 1080p or 4K. The roll moves under a playhead fixed a third of the way across:
"now" is always in the same place, what has played is on its left (shaded), what is coming on its
right, and a visitor who looks up mid-piece sees at once where the music is; a page that turns
would jump every few bars. A soundscape (or a melody without readable notes) shows its whole
picture (the spectrogram) with the playhead moving across it and the part still to come dimmed.

The views are drawn by the GPU into a slot of the renderer (``Renderer.target``), so transitions
and the label treat them like any picture and the picture path is unchanged. Per frame only a few
uniforms change (the playback position): nothing is uploaded. The notes and the picture are read
on the decode thread (``prepare_item``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from catalogue.models import SOUND_KINDS
from gallery.media import DEFAULTS, MediaSettings
from installation.media import Prepared, prepare
from installation.programme import Entry

log = logging.getLogger(__name__)

BACKGROUND = (18, 18, 24)
BLACK_KEY = (25, 25, 33)  # lanes of the black keys
OCTAVE = (48, 48, 62)  # the line under every C
BEAT = (38, 38, 50)
BAR = (78, 78, 100)
NOTE = (93, 173, 226)
PLAYHEAD_ROLL = (255, 190, 60)  # amber: absent from the roll's blues and greys
PLAYHEAD_PAGE = (80, 230, 255)  # cyan: absent from a spectrogram's inferno colours
HEAD_X = 1 / 3  # where the playhead stands on a scrolling roll (fraction of the width)
AREA = (0.20, 0.86)  # bottom and top of the roll / spectrogram (fractions of the height; the label sits below)
WINDOW_BARS = 4  # bars across the screen
PAST_SHADE = 0.4  # how much what has played is darkened
FUTURE_DIM = 0.55  # brightness of the part of a spectrogram still to come


@dataclass(frozen=True)
class Roll:
    """A melody's notes in seconds of its sound: (N, 3) float32 start, end, pitch; its beats and bars."""

    notes: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    duration: float  # seconds of sound

    @property
    def pitch_range(self) -> tuple[int, int]:
        lo, hi = int(self.notes[:, 2].min()), int(self.notes[:, 2].max())
        lo, hi = lo - 2, max(hi + 2, lo + 14)
        return lo, hi

    @property
    def window(self) -> float:
        """Seconds across the screen: WINDOW_BARS bars (4 to 16 s)."""
        bar = float(np.median(np.diff(self.downbeats))) if len(self.downbeats) > 1 else 2.0
        return float(min(max(WINDOW_BARS * bar, 4.0), 16.0))


@dataclass(frozen=True)
class Page:
    """A whole picture of a sound (spectrogram), time left to right over ``duration`` seconds."""

    image: np.ndarray
    duration: float


@dataclass
class SoundPrepared(Prepared):
    """A sound-only work decoded with what its view draws."""

    view: Roll | Page | None = None


def read_roll(path: Path, duration: float) -> Roll:
    """Notes, beats and bars of a MIDI file; ValueError when unreadable or without notes."""
    import pretty_midi

    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as e:  # mido / pretty_midi raise many kinds of error on a bad file
        raise ValueError(f"not a readable MIDI file ({type(e).__name__}: {e})") from e
    notes = [(n.start, n.end, n.pitch) for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not notes:
        raise ValueError("MIDI file holds no notes")
    arr = np.array(sorted(notes), np.float32)
    end = max(duration, float(arr[:, 1].max()))
    beats = pm.get_beats()
    if len(beats) > 1:  # extend the grid to the end of the sound (and one window past it)
        step = float(beats[-1] - beats[-2])
        beats = np.concatenate([beats, beats[-1] + step * np.arange(1, int((end + 16) / step) + 2)])
        try:
            down = pm.get_downbeats()
        except Exception:  # noqa: BLE001 - odd time signatures: every fourth beat
            down = beats[::4]
        if len(down) > 1:
            bar = float(down[-1] - down[-2])
            down = np.concatenate([down, down[-1] + bar * np.arange(1, int((end + 16) / bar) + 2)])
    else:
        beats = np.arange(0.0, end + 16, 0.5)
        down = beats[::4]
    return Roll(arr, np.asarray(beats, np.float32), np.asarray(down, np.float32), duration)


def sound_only(entry: Entry) -> bool:
    """A work that is only sound (shown over its own picture of the sound, not a paired visual)."""
    return entry.kind in SOUND_KINDS and entry.sound_id == entry.artwork_id


def prepare_item(entry: Entry, sample_rate: int, screen: tuple[int, int] | None = None, fit: str = "contain",
                 limits: MediaSettings = DEFAULTS, leveller: Any = None) -> Prepared:
    """``media.prepare`` (its sound levelled by ``leveller``), and for a sound-only work what its view
    draws (see with_view)."""
    return with_view(prepare(entry, sample_rate, screen, fit, limits, leveller=leveller), sample_rate)


def with_view(p: Prepared, sample_rate: int) -> Prepared:
    """A decoded sound-only work as a SoundPrepared with its view (its notes read here, on the decode
    thread); any other work as it is. ``sample_rate``: the rate ``p.audio`` was decoded at."""
    entry = p.entry
    if not sound_only(entry) or p.image is None:
        return p
    seconds = (len(p.audio) / sample_rate - entry.audio_offset) if p.audio is not None else entry.duration
    view: Roll | Page = Page(p.image, max(seconds, 1e-3))
    score = entry.score
    if entry.kind == "melody" and score is not None:
        try:
            view = read_roll(score.path, seconds)
        except (ValueError, OSError) as e:  # the notes are unreadable: the piano-roll picture with a playhead
            log.warning("artwork %d: its notes (%s) are unreadable, showing its picture: %s", entry.artwork_id,
                        score.path, e)
    return SoundPrepared(**{f.name: getattr(p, f.name) for f in fields(p) if f.init}, view=view)


# ---- drawing ------------------------------------------------------------------------------------
# Every mark is an instanced rectangle: rect (x0, x1, y0, y1; y in pixels from the bottom), colour
# (rgba) and kind: 0 x in pixels; 1 a line at time x0, x1 pixels wide; 2 a note from time x0 to x1
# (lit while it sounds); 3 a note's glow (seen only while it sounds); 4 x in pixels from the playhead.
RECT_VERT = """
#version 330
in vec2 pos;
in vec4 rect;
in vec4 col;
in float kind;
out vec4 c;
out vec2 lp;       // position in the rectangle, 0..1
flat out float k;
flat out vec3 glow;  // a glow's size and its soft edge, pixels
uniform float now;    // playback position, seconds
uniform float pps;    // pixels per second
uniform float head;   // playhead x, pixels
uniform vec2 screen;
uniform float flip;   // -1 drawing into a slot (its row 0 is the picture's top), 1 into the frame
float at(float s) { return floor(head + (s - now) * pps + 0.5); }
void main() {
    float xa = rect.x, xb = rect.y;
    c = col;
    lp = pos;
    k = kind;
    glow = vec3(1.0);
    if (kind > 3.5) { xa = head + rect.x; xb = head + rect.y; }
    else if (kind > 0.5) {
        bool sounding = now >= rect.x && now < rect.y;
        if (kind < 1.5) { xa = at(rect.x); xb = xa + rect.y; }
        else if (kind < 2.5) {
            xa = at(rect.x) + 1.0; xb = max(at(rect.y) - 1.0, xa + 1.0);
            if (sounding) c.rgb = mix(c.rgb, vec3(1.0), 0.45);
        } else {
            float pad = 0.25 * (rect.w - rect.z);
            xa = at(rect.x) - pad; xb = at(rect.y) + pad;
            glow = vec3(xb - xa, rect.w - rect.z, pad);
            c.a = sounding ? col.a : 0.0;
        }
    }
    c.rgb *= c.a;  // premultiplied: blend ONE, ONE_MINUS_SRC_ALPHA
    vec2 q = vec2(mix(xa, xb, pos.x), mix(rect.z, rect.w, pos.y)) / screen;
    gl_Position = vec4(q.x * 2.0 - 1.0, (q.y * 2.0 - 1.0) * flip, 0.0, 1.0);
}
"""

RECT_FRAG = """
#version 330
in vec4 c;
in vec2 lp;
flat in float k;
flat in vec3 glow;
out vec4 colour;
void main() {
    colour = c;
    if (k > 2.5 && k < 3.5) {  // a glow fades out beyond its note's edges
        vec2 q = max(abs(lp - 0.5) * glow.xy - (0.5 * glow.xy - glow.z), 0.0);
        colour = c * (1.0 - smoothstep(0.0, 1.0, length(q) / glow.z));
    }
}
"""

PAGE_VERT = """
#version 330
in vec2 pos;
out vec2 uv;
uniform vec4 box;  // x0, y0, x1, y1 in pixels
uniform vec2 screen;
uniform float flip;
void main() {
    uv = vec2(pos.x, 1.0 - pos.y);  // row 0 of an image is its top
    vec2 q = mix(box.xy, box.zw, pos) / screen;
    gl_Position = vec4(q.x * 2.0 - 1.0, (q.y * 2.0 - 1.0) * flip, 0.0, 1.0);
}
"""

PAGE_FRAG = """
#version 330
in vec2 uv;
out vec4 colour;
uniform sampler2D img;
uniform float split;  // playhead x in pixels: the part to its right is still to come
uniform float dim;
void main() {
    vec3 c = texture(img, uv).rgb;
    colour = vec4(gl_FragCoord.x > split ? c * dim : c, 1.0);
}
"""


def _c(rgb: tuple[int, int, int], a: float = 1.0) -> tuple[float, float, float, float]:
    return (rgb[0] / 255, rgb[1] / 255, rgb[2] / 255, a)


@dataclass(frozen=True)
class RollLayout:
    pps: float  # pixels per second
    head: float  # playhead x, pixels
    lane: int  # pixels per semitone
    y0: int  # bottom of the lowest lane, pixels from the bottom
    lo: int
    hi: int

    def lane_y(self, pitch: int) -> tuple[int, int]:
        """Bottom and top (pixels from the bottom) of a pitch's lane."""
        y = self.y0 + (pitch - self.lo) * self.lane
        return y, y + self.lane


def roll_layout(roll: Roll, width: int, height: int) -> RollLayout:
    lo, hi = roll.pitch_range
    n = hi - lo + 1
    bottom, top = AREA[0] * height, AREA[1] * height
    lane = max(2, min(int((top - bottom) // n), height // 18))
    y0 = int(round((bottom + top) / 2 - lane * n / 2))
    return RollLayout(width / roll.window, round(HEAD_X * width), lane, y0, lo, hi)


def playhead_width(height: int) -> int:
    return max(2, round(height / 360))


def roll_marks(roll: Roll, width: int, height: int) -> np.ndarray:
    """The instance data of a roll: (M, 9) float32 rect, colour, kind (drawn in this order)."""
    L = roll_layout(roll, width, height)
    top = L.y0 + (L.hi - L.lo + 1) * L.lane
    rows: list[tuple] = []
    for p in range(L.lo, L.hi + 1):
        a, b = L.lane_y(p)
        if p % 12 in (1, 3, 6, 8, 10):
            rows.append(((0, width, a, b), _c(BLACK_KEY), 0))
        if p % 12 == 0:
            rows.append(((0, width, a, a + 1), _c(OCTAVE), 0))
    for t in roll.beats:
        rows.append(((float(t), 1, L.y0, top), _c(BEAT), 1))
    for t in roll.downbeats:
        rows.append(((float(t), max(1, height // 540), L.y0, top), _c(BAR), 1))
    glow = max(2, L.lane // 2)
    for s, e, p in roll.notes:
        a, b = L.lane_y(int(p))
        rows.append(((float(s), float(e), a - glow, b + glow), _c(NOTE, 0.6), 3))
    for s, e, p in roll.notes:
        a, b = L.lane_y(int(p))
        rows.append(((float(s), float(e), a + 1, b - 1), _c(NOTE), 2))
    w = playhead_width(height)
    pad = max(4, height // 60)
    rows.append(((-L.head, 0, L.y0 - pad, top + pad), (0.0, 0.0, 0.0, PAST_SHADE), 4))
    rows += _playhead(w, L.y0 - pad, top + pad, PLAYHEAD_ROLL)
    return np.array([(*r, *c, k) for r, c, k in rows], np.float32)


def _playhead(w: int, y0: float, y1: float, rgb: tuple[int, int, int]) -> list[tuple]:
    a = -(w // 2)
    cap = 3 * w
    return [((a, a + w, y0, y1), _c(rgb), 4), ((a - w, a + 2 * w, y1, y1 + cap), _c(rgb), 4)]


def page_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where a sound's picture is drawn (x0, y0, x1, y1 in pixels from the bottom left): stretched to a
    band across the screen; a spectrogram's height is frequency, not a shape to keep."""
    m = round(width * 0.04)
    return m, round(AREA[0] * height), width - m, round(AREA[1] * height)


class SoundViews:
    """The GL side: per renderer slot, the marks of a roll or the texture of a page; draws them into the
    slot for a playback position. Programs are compiled on first use (a show of pictures pays nothing)."""

    def __init__(self, renderer: Any) -> None:
        self.r = renderer  # its GL context is touched only once a sound view is shown
        self._gl: dict[str, Any] | None = None
        self.views: list[Roll | Page | None] = [None, None]
        self.marks: list[Any] = [None, None]  # (buffer, vertex array, count) per slot
        self.pages: list[Any] = [None, None]  # texture per slot
        self.drawn: list[float | None] = [None, None]  # position last drawn per slot

    def _programs(self) -> dict[str, Any]:
        if self._gl is None:
            ctx = self.r.ctx
            quad = ctx.buffer(np.array([0, 0, 1, 0, 0, 1, 1, 1], "f4").tobytes())
            rect = ctx.program(vertex_shader=RECT_VERT, fragment_shader=RECT_FRAG)
            page = ctx.program(vertex_shader=PAGE_VERT, fragment_shader=PAGE_FRAG)
            page["img"] = 4
            self._gl = {"quad": quad, "rect": rect, "page": page,
                        "page_vao": ctx.vertex_array(page, [(quad, "2f", "pos")])}
        return self._gl

    def load(self, slot: int, view: Roll | Page) -> None:
        """Make slot show this view (its marks or picture on the GPU once, reused across frames)."""
        w, h = self.r.width, self.r.height
        self.views[slot], self.drawn[slot] = view, None
        if isinstance(view, Roll):
            self._set_marks(slot, roll_marks(view, w, h))
            return
        img = np.ascontiguousarray(view.image, np.uint8)
        ih, iw, comps = img.shape
        tex = self.pages[slot]
        if tex is not None and tex.size == (iw, ih) and tex.components == comps:
            tex.write(img)
        else:
            if tex is not None:
                tex.release()
                self.r.textures_released += 1
            tex = self.r.ctx.texture((iw, ih), comps, img, alignment=1)
            self.r.textures_created += 1
            tex.repeat_x = tex.repeat_y = False
            self.pages[slot] = tex
        _, y0, _, y1 = page_box(w, h)
        self._set_marks(slot, np.array([(*r, *c, k) for r, c, k in _playhead(
            playhead_width(h), y0 - h // 60, y1 + h // 60, PLAYHEAD_PAGE)], np.float32))

    def _set_marks(self, slot: int, data: np.ndarray) -> None:
        gl = self._programs()
        self._free_marks(slot)
        buf = self.r.ctx.buffer(data.tobytes())
        vao = self.r.ctx.vertex_array(gl["rect"], [(gl["quad"], "2f", "pos"), (buf, "4f 4f 1f/i", "rect", "col", "kind")])
        self.marks[slot] = (buf, vao, len(data))

    def head_x(self, slot: int, position: float) -> float:
        """Where the playhead stands (pixels from the left) at a playback position."""
        view = self.views[slot]
        if isinstance(view, Roll):
            return roll_layout(view, self.r.width, self.r.height).head
        x0, _, x1, _ = page_box(self.r.width, self.r.height)
        assert view is not None
        return x0 + (x1 - x0) * min(max(position / view.duration, 0.0), 1.0)

    def at(self, slot: int, position: float) -> float:
        """The position drawn for a playback position: after the sound has ended, its last frame."""
        view = self.views[slot]
        assert view is not None, "load a view into the slot first"
        return min(position, view.duration)

    def draw(self, slot: int, position: float, fbo: Any = None) -> bool:
        """Draw slot's view at ``position`` seconds into its sound: into ``fbo``, or else into the slot's
        texture (for a transition), where False means it is there already (the same position)."""
        import moderngl

        view = self.views[slot]
        position = self.at(slot, position)
        flip = 1.0
        if fbo is None:
            if self.drawn[slot] == position:
                return False
            fbo, flip = self.r.target(slot), -1.0
            self.drawn[slot] = position
        gl = self._programs()
        gl["rect"]["flip"] = gl["page"]["flip"] = flip
        w, h = self.r.width, self.r.height
        fbo.use()
        fbo.clear(*_c(BACKGROUND))
        rect = gl["rect"]
        rect["screen"] = (float(w), float(h))
        rect["now"] = float(position)
        if isinstance(view, Roll):
            L = roll_layout(view, w, h)
            rect["pps"], rect["head"] = float(L.pps), float(L.head)
        else:
            x0, y0, x1, y1 = page_box(w, h)
            head = round(self.head_x(slot, position))
            page = gl["page"]
            page["box"] = (float(x0), float(y0), float(x1), float(y1))
            page["screen"] = (float(w), float(h))
            page["split"] = float(head)
            page["dim"] = FUTURE_DIM
            self.pages[slot].use(location=4)
            gl["page_vao"].render(moderngl.TRIANGLE_STRIP)
            rect["pps"], rect["head"] = 0.0, float(head)
        self.r.ctx.enable(moderngl.BLEND)
        self.r.ctx.blend_func = moderngl.ONE, moderngl.ONE_MINUS_SRC_ALPHA
        _, vao, n = self.marks[slot]
        vao.render(moderngl.TRIANGLE_STRIP, instances=n)
        self.r.ctx.disable(moderngl.BLEND)
        return True

    def _free_marks(self, slot: int) -> None:
        if self.marks[slot] is not None:
            buf, vao, _ = self.marks[slot]
            vao.release()
            buf.release()
            self.marks[slot] = None

    def release(self) -> None:
        for slot in (0, 1):
            self._free_marks(slot)
            if self.pages[slot] is not None:
                self.pages[slot].release()
                self.r.textures_released += 1
                self.pages[slot] = None
        if self._gl is not None:
            for obj in (self._gl["page_vao"], self._gl["rect"], self._gl["page"], self._gl["quad"]):
                obj.release()
            self._gl = None
