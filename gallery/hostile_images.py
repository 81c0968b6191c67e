"""Hostile image files for the reader's tests and `bench/media_limits.py`: real small images whose headers lie.

``claim(data, fmt, w, h)`` rewrites the size a header claims (with valid checksums where the format has
them), so the rest of the file stays what Pillow wrote; ``FORMATS`` lists what each format's header can
hold. Also the two files of issue 21: a tiny PNG that claims 40000x40000 pixels, and a real one.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np

# format -> the largest side its header can claim
FORMATS: dict[str, int] = {"PNG": 2**31 - 1, "JPEG": 65535, "WEBP": 16383, "GIF": 65535, "BMP": 2**31 - 1,
                           "TIFF": 2**32 - 1}
MAGIC = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff", "WEBP": b"RIFF\x00\x00\x00\x00WEBP",
         "GIF": b"GIF89a", "BMP": b"BM", "TIFF": b"II*\x00"}


def encode(rgb: np.ndarray, fmt: str, **kw: object) -> bytes:
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(rgb).save(b, fmt, **kw)
    return b.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def claim(data: bytes, fmt: str, w: int, h: int) -> bytes:
    """The same file with its header claiming w x h pixels."""
    b = bytearray(data)
    if fmt == "PNG":  # IHDR is the first chunk: width, height at 16; CRC over type + body
        body = struct.pack(">II", w, h) + bytes(b[24:29])
        return bytes(b[:8]) + _chunk(b"IHDR", body) + bytes(b[33:])
    if fmt == "JPEG":  # the first SOFn marker: length, precision, height, width (big-endian)
        i = 2
        while i + 4 < len(b):
            if b[i] != 0xFF:
                i += 1
                continue
            marker = b[i + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                struct.pack_into(">HH", b, i + 5, h, w)
                return bytes(b)
            i += 2 + struct.unpack_from(">H", b, i + 2)[0]
        raise ValueError("no SOF marker")
    if fmt == "GIF":  # logical screen, then the first image descriptor
        struct.pack_into("<HH", b, 6, w, h)
        flags = b[10]
        i = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
        while i < len(b) and b[i] == 0x21:  # extension blocks
            i += 2
            while i < len(b) and b[i]:
                i += b[i] + 1
            i += 1
        if i + 9 < len(b) and b[i] == 0x2C:
            struct.pack_into("<HH", b, i + 5, w, h)
        return bytes(b)
    if fmt == "BMP":  # BITMAPINFOHEADER: signed width and height
        struct.pack_into("<ii", b, 18, min(w, 2**31 - 1), min(h, 2**31 - 1))
        return bytes(b)
    if fmt == "TIFF":  # ImageWidth (256) and ImageLength (257) in the first IFD, rewritten as LONGs
        (ifd,) = struct.unpack_from("<I", b, 4)
        (n,) = struct.unpack_from("<H", b, ifd)
        for k in range(n):
            e = ifd + 2 + 12 * k
            tag = struct.unpack_from("<H", b, e)[0]
            if tag in (256, 257):
                struct.pack_into("<HHII", b, e, tag, 4, 1, w if tag == 256 else h)
        return bytes(b)
    if fmt == "WEBP":
        kind = bytes(b[12:16])
        if kind == b"VP8 ":  # key frame header: 14-bit width and height after the start code
            struct.pack_into("<HH", b, 26, w & 0x3FFF, h & 0x3FFF)
        elif kind == b"VP8L":  # 14 bits each of width-1, height-1 after the signature byte
            v = ((w - 1) & 0x3FFF) | (((h - 1) & 0x3FFF) << 14) | (struct.unpack_from("<I", b, 21)[0] & ~0xFFFFFFF)
            struct.pack_into("<I", b, 21, v & 0xFFFFFFFF)
        elif kind == b"VP8X":  # canvas width-1, height-1 (24 bits each)
            b[24:27] = (max(w, 1) - 1).to_bytes(3, "little")
            b[27:30] = (max(h, 1) - 1).to_bytes(3, "little")
        return bytes(b)
    raise ValueError(fmt)


def bomb_png(w: int = 40000, h: int = 40000) -> bytes:
    """A few dozen bytes of PNG whose header claims w x h (issue 21's file was 545 bytes)."""
    return claim(encode(np.full((8, 8, 3), (200, 10, 10), np.uint8), "PNG"), "PNG", w, h)


def write_black_png(path: Path, w: int, h: int) -> Path:
    """A real w x h RGB PNG, all black, written row by row (a 20000x20000 one is about 1.1 MB)."""
    co = zlib.compressobj(9)
    row = b"\x00" + bytes(3 * w)
    parts = [co.compress(row) for _ in range(h)] + [co.flush()]
    with open(path, "wb") as f:
        f.write(MAGIC["PNG"] + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b""))
    return path
