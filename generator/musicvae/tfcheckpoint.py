"""Read TensorFlow (TF1 ``tf.train.Saver`` / TF2 ``tf.train.Checkpoint``) checkpoints without TensorFlow.

A checkpoint ``PREFIX`` is ``PREFIX.index`` plus ``PREFIX.data-00000-of-0000N``. The index is a
LevelDB table (SSTable): data blocks of prefix-compressed key/value entries, an index block pointing
at them, and a 48-byte footer (metaindex handle, index handle, magic 0xdb4775248b80fb57). Each block
is followed by a type byte (0: uncompressed) and the masked CRC-32C of block + type. The entry with
the empty key is a ``BundleHeaderProto`` (num_shards, endianness); every other key is a tensor name
whose value is a ``BundleEntryProto``: dtype (1), shape (2), shard_id (3), offset (4), size (5),
crc32c (6, fixed32, masked), slices (7). The protobuf fields are parsed here by hand.

Every failure is a :class:`CheckpointError` naming the file and, where there is one, the variable.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from generator.musicvae.crc32c import crc32c, unmask

MAGIC = 0xDB4775248B80FB57
FOOTER = 48
# tensorflow/core/framework/types.proto
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
          10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64}
DTYPE_NAMES = {7: "string", 14: "bfloat16", 8: "complex64", 20: "resource", 21: "variant"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message names the file and the variable."""


@dataclass(frozen=True)
class Entry:
    name: str
    dtype: int
    shape: tuple[int, ...]
    shard: int
    offset: int
    size: int
    crc: int | None  # masked CRC-32C of the tensor's bytes
    sliced: bool


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise IndexError("varint runs past the end")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message; length-delimited values as bytes."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val = struct.unpack_from("<Q", buf, pos)[0]
            pos += 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("field runs past the end")
            val = bytes(buf[pos:pos + n])
            pos += n
        elif wire == 5:
            val = struct.unpack_from("<I", buf, pos)[0]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, wire, val))
    return out


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _entry(name: str, value: bytes) -> Entry:
    dtype, shape, shard, offset, size, crc, sliced = 0, [], 0, 0, 0, None, False
    for field, _, val in _fields(value):
        if field == 1:
            dtype = int(val)
        elif field == 2:
            for f2, _, dim in _fields(val):  # TensorShapeProto.dim
                if f2 == 2:
                    size_ = next((int(v) for f3, _, v in _fields(dim) if f3 == 1), 0)
                    shape.append(_signed64(size_))
                elif f2 == 3 and val:
                    raise ValueError("unknown rank")
        elif field == 3:
            shard = int(val)
        elif field == 4:
            offset = int(val)
        elif field == 5:
            size = int(val)
        elif field == 6:
            crc = int(val)
        elif field == 7:
            sliced = True
    return Entry(name, dtype, tuple(shape), shard, offset, size, crc, sliced)


def _block(data: bytes, offset: int, size: int, what: str, path: Path) -> bytes:
    end = offset + size
    if end + 5 > len(data):
        raise CheckpointError(f"{path}: the {what} block runs past the end of the file (truncated?)")
    contents = data[offset:end]
    kind = data[end]
    stored = struct.unpack_from("<I", data, end + 1)[0]
    if unmask(stored) != crc32c(data[offset:end + 1]):
        raise CheckpointError(f"{path}: checksum mismatch in the {what} block (the file is damaged)")
    if kind != 0:
        raise CheckpointError(f"{path}: the {what} block is compressed (type {kind}); "
                              "TensorFlow writes checkpoint indexes uncompressed")
    return contents


def _block_entries(block: bytes) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise ValueError("block shorter than its restart count")
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise ValueError("bad restart count")
    out, pos, key = [], 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        out.append((key, block[pos:pos + vlen]))
        pos += vlen
    return out


def read_index(index_path: Path) -> tuple[int, dict[str, Entry]]:
    """(number of data shards, {variable name: Entry}) from a ``.index`` file."""
    path = Path(index_path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot be read ({e.strerror or e})") from None
    if len(data) < FOOTER:
        raise CheckpointError(f"{path}: {len(data)} bytes is too short for a checkpoint index (truncated?)")
    if struct.unpack_from("<Q", data, len(data) - 8)[0] != MAGIC:
        raise CheckpointError(f"{path}: not a TensorFlow checkpoint index (no table magic at the end; truncated?)")
    try:
        footer = data[-FOOTER:]
        _, p = _varint(footer, 0)
        _, p = _varint(footer, p)
        idx_off, p = _varint(footer, p)
        idx_size, p = _varint(footer, p)
        index = _block(data, idx_off, idx_size, "index", path)
        entries: dict[str, Entry] = {}
        shards = 1
        for _, handle in _block_entries(index):
            off, q = _varint(handle, 0)
            size, _ = _varint(handle, q)
            for key, value in _block_entries(_block(data, off, size, "data", path)):
                if key == b"":
                    for field, _, val in _fields(value):
                        if field == 1:
                            shards = int(val)
                        elif field == 2 and val != 0:
                            raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
                    continue
                name = key.decode("utf-8")
                entries[name] = _entry(name, value)
    except CheckpointError:
        raise
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: the index is malformed ({e})") from None
    return shards, entries


def resolve_prefix(path: str | Path) -> Path:
    """A checkpoint prefix from the prefix itself, its ``.index`` file, or a directory holding one."""
    p = Path(path)
    if p.is_dir():
        ckpt = p / "checkpoint"
        if ckpt.is_file():  # TF's text file naming the latest checkpoint
            for line in ckpt.read_text(errors="replace").splitlines():
                if line.startswith("model_checkpoint_path:"):
                    name = line.split(":", 1)[1].strip().strip('"')
                    cand = Path(name) if Path(name).is_absolute() else p / name
                    if cand.with_name(cand.name + ".index").is_file():
                        return cand
        found = sorted(p.glob("*.index"))
        if len(found) == 1:
            return found[0].with_suffix("")
        if not found:
            raise CheckpointError(f"{p}: no TensorFlow checkpoint (*.index) in this directory")
        raise CheckpointError(f"{p}: several checkpoints ({', '.join(f.name for f in found)}); name one prefix")
    if p.suffix in (".index", ".meta"):  # the index, or the graph file beside it
        return p.with_suffix("")
    if p.name.split(".")[-1].startswith("data-"):
        return p.with_name(p.name.rsplit(".", 1)[0])
    if not p.with_name(p.name + ".index").is_file():
        raise CheckpointError(f"{p}: no checkpoint here ({p.name}.index does not exist)")
    return p


class TFCheckpoint:
    """``TFCheckpoint(prefix).tensor(name) -> np.ndarray``, checksum verified."""

    def __init__(self, prefix: str | Path) -> None:
        self.prefix = resolve_prefix(prefix)
        self.shards, self.entries = read_index(self.prefix.with_name(self.prefix.name + ".index"))
        self._data: dict[int, np.memmap | bytes] = {}

    def shard_path(self, shard: int) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}.data-{shard:05d}-of-{self.shards:05d}")

    def _shard(self, shard: int, name: str) -> np.ndarray:
        if shard not in self._data:
            p = self.shard_path(shard)
            if not p.is_file():
                raise CheckpointError(f"{p}: the data shard holding {name!r} is missing")
            self._data[shard] = np.memmap(p, dtype=np.uint8, mode="r") if p.stat().st_size else np.zeros(0, np.uint8)
        return self._data[shard]

    def shape(self, name: str) -> tuple[int, ...]:
        return self._get(name).shape

    def _get(self, name: str) -> Entry:
        try:
            return self.entries[name]
        except KeyError:
            raise CheckpointError(f"{self.prefix}: no variable {name!r} in this checkpoint") from None

    def tensor(self, name: str, verify: bool = True) -> np.ndarray:
        e = self._get(name)
        if e.sliced:
            raise CheckpointError(f"{self.prefix}: variable {name!r} is partitioned (slices); not supported")
        if e.dtype not in DTYPES:
            kind = DTYPE_NAMES.get(e.dtype, f"dtype {e.dtype}")
            raise CheckpointError(f"{self.prefix}: variable {name!r} is {kind}; only numeric tensors are read")
        dt = np.dtype(DTYPES[e.dtype])
        count = int(np.prod(e.shape)) if e.shape else 1
        if count * dt.itemsize != e.size:
            raise CheckpointError(f"{self.prefix}: variable {name!r}: {e.size} bytes do not hold shape {e.shape}")
        buf = self._shard(e.shard, name)
        if e.offset + e.size > buf.size:
            raise CheckpointError(f"{self.shard_path(e.shard)}: variable {name!r} runs past the end of the "
                                  f"data file ({buf.size} bytes; truncated?)")
        raw = np.asarray(buf[e.offset:e.offset + e.size])
        if verify and e.crc is not None and crc32c(raw) != unmask(e.crc):
            raise CheckpointError(f"{self.shard_path(e.shard)}: checksum mismatch in variable {name!r} "
                                  "(the data file is damaged)")
        return raw.view(dt.newbyteorder("<")).reshape(e.shape).astype(dt, copy=True)
