"""CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and LevelDB's masked form, in numpy.

TensorFlow checkpoints carry a masked CRC-32C of every index block and of every tensor's bytes.
Large buffers are checksummed as many equal chunks side by side (one numpy step per byte position),
then the chunks' registers are joined with the linear "advance over L zero bytes" map; the result
is exactly the byte-at-a-time CRC (tests compare both on random data and the standard check value).
"""

from __future__ import annotations

import functools

import numpy as np

POLY = 0x82F63B78
MASK_DELTA = 0xA282EAD8
_CHUNK = 4096  # bytes per chunk of the side-by-side pass


def _make_table() -> np.ndarray:
    t = np.zeros(256, dtype=np.uint32)
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ POLY if c & 1 else c >> 1
        t[b] = c
    return t


TABLE = _make_table()
_TABLE_LIST = [int(v) for v in TABLE]


def _update_bytes(reg: int, data: bytes | memoryview) -> int:
    t = _TABLE_LIST
    for b in bytes(data):
        reg = t[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


@functools.lru_cache(maxsize=4)
def _advance_tables(length: int) -> list[list[int]]:
    """The register after ``length`` zero bytes, as 4 byte-indexed tables (the map is linear)."""
    t = _TABLE_LIST
    basis = []
    for i in range(32):
        reg = 1 << i
        for _ in range(length):
            reg = t[reg & 0xFF] ^ (reg >> 8)
        basis.append(reg)
    tables = []
    for k in range(4):
        row = []
        for v in range(256):
            acc = 0
            for bit in range(8):
                if v >> bit & 1:
                    acc ^= basis[8 * k + bit]
            row.append(acc)
        tables.append(row)
    return tables


def _advance(reg: int, tables: list[list[int]]) -> int:
    return (tables[0][reg & 0xFF] ^ tables[1][(reg >> 8) & 0xFF] ^ tables[2][(reg >> 16) & 0xFF]
            ^ tables[3][reg >> 24])


def crc32c(data: bytes | bytearray | memoryview | np.ndarray, crc: int = 0) -> int:
    """CRC-32C of ``data`` (continuing from ``crc``, the value of the bytes before it)."""
    buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8) if not isinstance(data, np.ndarray) \
        else np.ascontiguousarray(data).view(np.uint8).reshape(-1)
    reg = (crc ^ 0xFFFFFFFF) & 0xFFFFFFFF
    n = buf.size
    chunks = n // _CHUNK
    if chunks >= 8:
        block = buf[: chunks * _CHUNK].reshape(chunks, _CHUNK)
        regs = np.zeros(chunks, dtype=np.uint32)
        for j in range(_CHUNK):
            regs = TABLE[(regs ^ block[:, j]) & 0xFF] ^ (regs >> np.uint32(8))
        tables = _advance_tables(_CHUNK)
        for r in regs.tolist():
            reg = _advance(reg, tables) ^ r
        rest = buf[chunks * _CHUNK:]
    else:
        rest = buf
    reg = _update_bytes(reg, rest.tobytes())
    return reg ^ 0xFFFFFFFF


def mask(crc: int) -> int:
    """LevelDB's masked CRC (a CRC stored next to the data it covers)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def unmask(masked: int) -> int:
    rot = (masked - MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
