"""glFinish without holding Python's GIL.

moderngl keeps the GIL through its calls, so while a software rasteriser (llvmpipe) works through a
frame inside ``ctx.finish()`` no other thread of the show runs: the control API's requests wait
for the frame (measured: a 0.5 ms sleeper thread woke every 43 ms beside 1080p crossfades, every
0.6 ms with this). ctypes releases the GIL around a foreign call, so calling the driver's glFinish
through it lets the HTTP threads answer while the frame is rasterised. The show calls it before a
window's flip (the frame is complete either way; a flip waits for it too).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_LIBS = ("libOpenGL.so.0", "libGL.so.1", ctypes.util.find_library("GL") or "")


def gil_free_finish() -> Callable[[], None] | None:
    """The driver's glFinish as a GIL-releasing call, or None where no GL library can be loaded."""
    for name in _LIBS:
        if not name:
            continue
        try:
            fn = ctypes.CDLL(name).glFinish
        except (OSError, AttributeError):
            continue
        fn.restype = None
        fn.argtypes = []
        return fn
    return None
