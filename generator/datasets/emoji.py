"""A real image collection no one here made: the colour emoji of Debian's ``fonts-noto-color-emoji``.

Noto Color Emoji (Google, SIL Open Font License 1.1) stores every glyph as a colour bitmap: a PNG of
136 x 128 pixels in its CBDT table, drawn for 109 pixels per em. :func:`export_glyphs` writes those
bitmaps as PNG files, one per glyph (about 3,900 in Debian 12's version 2.042), named by the code points
they stand for: ``u1F600.png`` for a single character, ``u1F469_200D_1F52C.png`` for a sequence the
font forms by ligature (ZWJ sequences, skin tones, flags), as its GSUB table says. The folder then goes
through ``gallery dataset images`` like any artist's folder (``gallery dataset emoji`` does both).

The bitmaps are the glyphs themselves: Pillow drawing a character of this font at size 109 with
``embedded_color=True`` pastes the same PNG, but reaches only the ~1,400 glyphs that one code point names.
fontTools reads the tables (no glyph code runs; a PNG is checked by the image reader as any file is).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gallery.errors import BadInput

FONT_PATHS = ("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
              "/usr/share/fonts/noto/NotoColorEmoji.ttf")
DEBIAN_PACKAGE = "fonts-noto-color-emoji"
LICENCE = "SIL Open Font License 1.1"
SOURCE = "Noto Color Emoji (Google), Debian package fonts-noto-color-emoji"


def find_font() -> Path | None:
    """The installed Noto Color Emoji font, or None."""
    for p in FONT_PATHS:
        if Path(p).is_file():
            return Path(p)
    return None


def require_font(path: Path | None = None) -> Path:
    p = path or find_font()
    if p is None or not Path(p).is_file():
        raise BadInput(f"Noto Color Emoji is not installed ({path or FONT_PATHS[0]} is missing): "
                       f"apt-get install {DEBIAN_PACKAGE} (make setup installs it)")
    return Path(p)


def _sequences(font: Any) -> dict[str, tuple[int, ...]]:
    """glyph name -> the code points it stands for: the cmap's single characters, then the GSUB ligatures
    (a ligature's components resolved through the cmap and earlier ligatures)."""
    seq: dict[str, tuple[int, ...]] = {}
    for cp, g in sorted(font.getBestCmap().items()):
        seq.setdefault(g, (cp,))
    if "GSUB" not in font:
        return seq
    ligs: list[tuple[str, list[str]]] = []
    for lookup in font["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            if lookup.LookupType == 7:  # extension: the real subtable inside
                sub = sub.ExtSubTable
            for first, entries in (getattr(sub, "ligatures", None) or {}).items():
                ligs += [(lig.LigGlyph, [first, *lig.Component]) for lig in entries]
    for _ in range(4):  # ligatures of ligatures: resolve until nothing changes
        changed = False
        for glyph, parts in ligs:
            if glyph not in seq and all(p in seq for p in parts):
                seq[glyph] = tuple(cp for p in parts for cp in seq[p])
                changed = True
        if not changed:
            break
    return seq


def file_name(glyph: str, seq: dict[str, tuple[int, ...]]) -> str:
    cps = seq.get(glyph)
    return ("u" + "_".join(f"{cp:04X}" for cp in cps)) if cps else glyph


def export_glyphs(out_dir: Path, *, font_path: Path | None = None, limit: int | None = None,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write the font's colour bitmaps (the largest strike) as PNG files into ``out_dir``; returns
    {"font", "font_sha256", "strike_ppem", "glyphs" (bitmaps in the font), "written", "names"}.
    ``limit``: only the first N bitmaps in the font's glyph order."""
    import hashlib

    from fontTools.ttLib import TTFont

    p = require_font(font_path)
    font = TTFont(str(p), lazy=True)
    if "CBDT" not in font or "CBLC" not in font:
        raise BadInput(f"{p} has no colour bitmaps (CBDT/CBLC tables): not the Noto Color Emoji this reads")
    strikes = font["CBLC"].strikes
    best = max(range(len(strikes)), key=lambda i: strikes[i].bitmapSizeTable.ppemY)
    bitmaps = font["CBDT"].strikeData[best]
    seq = _sequences(font)
    order = {g: i for i, g in enumerate(font.getGlyphOrder())}
    glyphs = sorted(bitmaps, key=lambda g: order.get(g, len(order)))
    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for g in glyphs[:limit] if limit else glyphs:
        data = getattr(bitmaps[g], "imageData", b"")
        if not data.startswith(b"\x89PNG"):
            continue  # a strike in another bitmap format (not in Noto's): nothing to write
        name = file_name(g, seq) + ".png"
        tmp = out_dir / f".{name}.part"
        tmp.write_bytes(data)
        os.replace(tmp, out_dir / name)
        names.append(name)
        if progress:
            progress(1)
    return {"font": str(p), "font_sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "strike_ppem": int(strikes[best].bitmapSizeTable.ppemY), "glyphs": len(glyphs), "written": len(names),
            "names": names}
