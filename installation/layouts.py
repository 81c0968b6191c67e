"""Layouts of a multi-screen installation: mirror, span (one canvas across screens, bezels hidden) and
group (screen i shows item i of a group).

A span screen draws the whole canvas through a GL viewport shifted so that only its own part lands in
its framebuffer: the renderer fits pictures to the canvas (the size of all screens plus the bezels
between them) and the rasteriser clips what falls outside, so each screen pays for its own pixels only.
The strip behind a bezel belongs to no screen: a line crossing the wall stays straight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from installation.sync_settings import SyncSettings


@dataclass(frozen=True)
class Layout:
    kind: str  # mirror | span | group
    canvas: tuple[int, int]  # what the renderer fits pictures to
    origin: tuple[int, int]  # this screen's top-left corner on the canvas
    screen: tuple[int, int]  # this screen's pixels
    group: tuple[int, int] = (0, 1)  # (index, size) of a group screen

    @property
    def spans(self) -> bool:
        return self.canvas != self.screen


def layout_for(cfg: SyncSettings, screen: str, size: tuple[int, int]) -> Layout:
    """The layout of ``screen`` whose output is ``size`` pixels (every span screen the same size)."""
    sc = cfg.screens[screen]
    w, h = size
    if sc.layout == "span":
        bx, by = cfg.canvas.bezel()
        c = cfg.canvas
        canvas = (c.columns * w + (c.columns - 1) * bx, c.rows * h + (c.rows - 1) * by)
        return Layout("span", canvas, (sc.column * (w + bx), sc.row * (h + by)), (w, h))
    if sc.layout == "group":
        return Layout("group", (w, h), (0, 0), (w, h), cfg.group(screen))
    return Layout("mirror", (w, h), (0, 0), (w, h))


class SpanTarget:
    """A framebuffer seen through a shifted viewport: drawing the canvas into it leaves this screen's part.

    Quacks like the moderngl framebuffer the renderer draws into (``use``, ``clear``, ``read``)."""

    def __init__(self, fbo: Any, ctx: Any, layout: Layout) -> None:
        self.fbo, self.ctx, self.layout = fbo, ctx, layout
        cw, ch = layout.canvas
        x, y = layout.origin
        sh = layout.screen[1]
        # GL's origin is bottom left: the screen's bottom edge sits (ch - y - sh) above the canvas's
        self.viewport = (-x, -(ch - y - sh), cw, ch)

    def use(self) -> None:
        self.fbo.use()
        self.ctx.viewport = self.viewport

    def clear(self, *a: Any, **k: Any) -> None:
        self.ctx.viewport = self.fbo.viewport
        self.fbo.clear(*a, **k)
        self.ctx.viewport = self.viewport

    def read(self, *a: Any, **k: Any) -> Any:
        return self.fbo.read(*a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fbo, name)
