"""The size of the show's window on the screen it opens on (issue 23, "Windows").

``gallery show --windowed`` used to open show.width x show.height (1920x1080) whatever the screen: on a
1280x720 screen the window was cropped and the label fell off it. Now a window fits the desktop of its
display, less a margin for the window's frame and the desktop's panels, keeping the show's aspect ratio;
``--size WxH`` asks for a size, which is shrunk (never stretched) to fit the same room. No pygame here: the
sizes are plain arithmetic, tested without a display.
"""

from __future__ import annotations

import re

from gallery.errors import BadInput

MIN_SIDE, MAX_SIDE = 16, 7680
_SIZE = re.compile(r"^\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); BadInput naming --size for anything else or out of 16..7680."""
    m = _SIZE.match(text or "")
    if not m:
        raise BadInput(f"--size {text!r}: give WIDTHxHEIGHT in pixels, e.g. --size 1280x720")
    w, h = int(m.group(1)), int(m.group(2))
    for name, v in (("width", w), ("height", h)):
        if not MIN_SIDE <= v <= MAX_SIDE:
            raise BadInput(f"--size {text!r}: the {name} {v} is out of range ({MIN_SIDE}..{MAX_SIDE} pixels)")
    return w, h


def room(desktop: tuple[int, int]) -> tuple[int, int]:
    """The room a window has on a desktop: less 3% of the width a side, and a title bar and panel's height
    (10% of it, at least 64 px) -- 1280x720 leaves 1203x648."""
    dw, dh = int(desktop[0]), int(desktop[1])
    return max(MIN_SIDE, dw - round(dw * 0.06)), max(MIN_SIDE, dh - max(64, round(dh * 0.10)))


def _even(v: float) -> int:
    return max(MIN_SIDE, int(v) // 2 * 2)


def window_size(requested: tuple[int, int], desktop: tuple[int, int], *, fill: bool) -> tuple[int, int]:
    """The window for ``requested`` (its aspect ratio, and with ``fill=False`` its size) on ``desktop``.

    ``fill``: as large as the room allows at the requested aspect (``--windowed`` on show.width/height);
    else the requested size, shrunk at its aspect when it does not fit (``--size`` / ``--width --height``).
    Never larger than the room, so the whole picture and its label are on the screen."""
    rw, rh = max(1, int(requested[0])), max(1, int(requested[1]))
    aw, ah = room(desktop)
    scale = min(aw / rw, ah / rh)
    if not fill:
        scale = min(1.0, scale)
    if scale == 1.0:
        return rw, rh
    return min(_even(rw * scale), aw), min(_even(rh * scale), ah)
