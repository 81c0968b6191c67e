"""Run the windowed show on an X screen (under Xvfb) and report what the screen shows (tests/installation/
test_windows.py): ``python -m tests.installation.window_probe DATA_DIR OUT_DIR [--size WxH]``.

One black still whose label is the only light on the screen; at 2 s the window's geometry (xwininfo) and a
screenshot of the whole X screen (XGetImage through ctypes) are taken; the show's final status is written
to OUT_DIR/result.json and the screenshot to OUT_DIR/screen.npy.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


class _XImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_int), ("height", ctypes.c_int), ("xoffset", ctypes.c_int),
                ("format", ctypes.c_int), ("data", ctypes.POINTER(ctypes.c_ubyte)), ("byte_order", ctypes.c_int),
                ("bitmap_unit", ctypes.c_int), ("bitmap_bit_order", ctypes.c_int), ("bitmap_pad", ctypes.c_int),
                ("depth", ctypes.c_int), ("bytes_per_line", ctypes.c_int), ("bits_per_pixel", ctypes.c_int)]


def screenshot() -> np.ndarray:
    """The whole X screen as RGB [h, w, 3] (a 24/32-bit TrueColor screen, as Xvfb's)."""
    x = ctypes.CDLL(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XDefaultRootWindow.restype, x.XDefaultRootWindow.argtypes = ctypes.c_ulong, [ctypes.c_void_p]
    x.XDisplayWidth.argtypes = x.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x.XGetImage.restype = ctypes.POINTER(_XImage)
    x.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                            ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
    d = x.XOpenDisplay(None)
    w, h = x.XDisplayWidth(d, 0), x.XDisplayHeight(d, 0)
    img = x.XGetImage(d, x.XDefaultRootWindow(d), 0, 0, w, h, 0xFFFFFFFF, 2).contents  # ZPixmap
    assert img.bits_per_pixel == 32, img.bits_per_pixel
    raw = np.ctypeslib.as_array(img.data, shape=(img.height * img.bytes_per_line,)).copy()
    return raw.reshape(h, img.bytes_per_line)[:, :w * 4].reshape(h, w, 4)[:, :, 2::-1].copy()  # BGRX -> RGB


def main(data: Path, out: Path, size: str | None) -> None:
    os.environ["SDL_VIDEODRIVER"] = "x11"
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    from catalogue import ArtworkDraft, MediaDraft, open_catalogue
    from gallery.config import load_settings
    from generator.samples import solid_png
    from installation.live import run_live
    from installation.settings import ShowSettings
    from installation.windows import parse_size

    settings = load_settings(None, environ={}, overrides={"data_dir": str(data), "catalogue": {"fsync": False}})
    cat = open_catalogue(settings)
    title = ("Between “Endless walk through the tiny-faces64 model, seed 7” and “Chain walk through the "
             "tiny-faces64 model, seeds 3, 9”")  # wider than the window at the label's size: wrapped
    cat.add(ArtworkDraft(kind="image", title=title, recipe={"generator": "test", "seed": 1},
                         media=[MediaDraft("image", "image/png", data=solid_png((0, 0, 0), 64, 36))]))
    show = ShowSettings(width=1920, height=1080, label_seconds=30, label_fade=0.1, http_port=0, fresh_hours=0,
                        durations={"image": 30.0}, transition_seconds=0.2)
    seen: dict = {}

    def probe() -> None:
        time.sleep(2.0)
        seen["xwininfo"] = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
        np.save(out / "screen.npy", screenshot())

    th = threading.Thread(target=probe)
    th.start()
    w, h = parse_size(size) if size else (None, None)
    res = run_live(show, cat, status_file=data / "status.json", fullscreen=False, seconds=3.0, width=w, height=h)
    th.join()
    (out / "result.json").write_text(json.dumps({"size": res.status["size"], "frames": res.frames,
                                                 "xwininfo": seen.get("xwininfo", "")}))


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]), Path(args[1]), args[3] if len(args) > 3 and args[2] == "--size" else None)
