"""The one safe reader for pickle-based checkpoint files: every importer loads user files through it.

``read(path)`` (or ``read_bytes``) recognises the container and unpickles it with
:class:`gallery.safe_pickle.SafeUnpickler`, which builds tensors, numpy arrays and plain containers and
nothing else (see that module for the rules):

* **torch zip** files (``torch.save`` since torch 1.6, including PyTorch Lightning ``.ckpt``): the
  ``<archive>/data.pkl`` pickle, each storage read from ``<archive>/data/<key>``;
* **legacy torch** files (``torch.save`` before 1.6, or ``_use_new_zipfile_serialization=False``): a
  magic number, protocol and system-info pickles, the main pickle, the storage keys, then each storage's
  raw bytes behind its element count;
* **plain pickles** (NVIDIA's network ``.pkl``; their storages are nested legacy torch files, read here
  too through ``torch.storage._load_from_bytes``).

TorchScript archives and torch's pre-1.0 tar format are refused with a message that says so. Classes a
file merely names come back as inert placeholders; :attr:`Loaded.named` lists them and
:func:`describe` turns them into a sentence for error messages.
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gallery.errors import BadInput
from gallery.safe_pickle import (
    NumpyArray,
    Placeholder,
    RefusedCheckpoint,
    SafeUnpickler,
    Storage,
    StorageType,
    placeholder_ref,
)

__all__ = [
    "Loaded",
    "Placeholder",
    "RefusedCheckpoint",
    "describe",
    "placeholder_ref",
    "read",
    "read_bytes",
    "sniff",
    "tensor_dict",
]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_HEAD = b"\x80\x02\x8a\x0a" + LEGACY_MAGIC.to_bytes(10, "little")
ZIP_HEAD = b"PK\x03\x04"


@dataclass
class Loaded:
    """What a file held (``obj``), its container (``torch-zip``, ``torch-legacy`` or ``pickle``) and
    the names it used that became placeholders (``module.qualname`` -> how often)."""

    obj: Any
    format: str
    named: dict[str, int] = field(default_factory=dict)


def describe(named: dict[str, int] | Any, limit: int = 6) -> str:
    """'argparse.Namespace, pytorch_lightning...ModelCheckpoint' for messages ('' when none)."""
    names = sorted(named)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def sniff(head: bytes) -> str:
    """The container a file's first bytes announce: torch-zip, torch-legacy, pickle or unknown."""
    if head.startswith(ZIP_HEAD):
        return "torch-zip"
    if head.startswith(LEGACY_HEAD):
        return "torch-legacy"
    if head[:1] == b"\x80" or head[:1] in (b"(", b"}", b"]", b"c"):
        return "pickle"
    return "unknown"


def _storage_type(x: Any) -> torch.dtype:
    if not isinstance(x, StorageType):
        ref = placeholder_ref(x)
        raise RefusedCheckpoint(f"refused: a storage of unsupported type {ref or type(x).__name__}")
    return x.dtype


def _untyped(buf: bytearray) -> torch.UntypedStorage:
    if not buf:
        return torch.UntypedStorage(0)
    return torch.frombuffer(buf, dtype=torch.uint8).untyped_storage()


def finish(obj: Any) -> Any:
    """Swap the numpy stand-ins for real arrays throughout (containers and placeholder state)."""
    seen: dict[int, Any] = {}

    def walk(x: Any, depth: int) -> Any:
        if isinstance(x, NumpyArray):
            return x.array
        if isinstance(x, str | bytes | int | float | bool | type(None) | torch.Tensor | np.ndarray | np.generic | type):
            return x
        if id(x) in seen:
            return seen[id(x)]
        if depth > 500:
            raise RefusedCheckpoint("malformed file: nested more than 500 levels deep")
        seen[id(x)] = x
        if isinstance(x, dict):
            for k in list(x):
                x[k] = walk(x[k], depth + 1)
        elif isinstance(x, list):
            x[:] = [walk(v, depth + 1) for v in x]
        elif isinstance(x, tuple):
            y = tuple(walk(v, depth + 1) for v in x)
            seen[id(x)] = y
            return y
        elif isinstance(x, set | frozenset):
            return x
        elif hasattr(x, "__dict__") and not isinstance(x, StorageType | Storage):
            for k, v in list(vars(x).items()):
                vars(x)[k] = walk(v, depth + 1)
        return x

    return walk(obj, 0)


# ---------------------------------------------------------------- zip
def _data_offset(f: Any, info: zipfile.ZipInfo) -> int:
    """Where a stored member's bytes start: after its local header (whose name and extra field lengths
    may differ from the central directory's)."""
    f.seek(info.header_offset)
    head = f.read(30)
    if len(head) != 30 or head[:4] != ZIP_HEAD:
        raise RefusedCheckpoint(f"malformed file: bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _read_zip(f: Any, size: int, extra: dict | None) -> Loaded:
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile as e:
        raise RefusedCheckpoint(f"not a readable torch file (broken zip archive: {e})") from None
    names = zf.namelist()
    pkls = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        raise RefusedCheckpoint("a TorchScript (JIT) archive, not a checkpoint of weights; "
                                "give a plain state dict (torch.save(model.state_dict())) or safetensors")
    if not pkls:
        raise RefusedCheckpoint("a zip archive that is not a torch checkpoint (no <archive>/data.pkl)")
    prefix = pkls[0][: -len("data.pkl")]
    try:
        order = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
    except (KeyError, UnicodeDecodeError):
        order = "?"
    if order != "little":
        raise RefusedCheckpoint(f"a torch file written on a {order}-endian machine; only little-endian is read")
    storages: dict[str, Storage] = {}

    def persistent(pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise RefusedCheckpoint(f"malformed file: unknown persistent id {str(pid)[:80]}")
        dtype, key = _storage_type(pid[1]), str(pid[2])
        if key not in storages:
            try:
                info = zf.getinfo(f"{prefix}data/{key}")
            except KeyError:
                raise RefusedCheckpoint(f"malformed file: storage {key} is missing from the archive") from None
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > size:
                raise RefusedCheckpoint(f"malformed file: storage {key} is compressed (torch never writes that)")
            buf = bytearray(info.file_size)
            f.seek(_data_offset(f, info))  # stored members: read the bytes straight into the tensor memory
            if f.readinto(memoryview(buf)) != info.file_size:
                raise RefusedCheckpoint(f"malformed file: storage {key} is truncated")
            storages[key] = Storage(dtype, _untyped(buf))
        st = storages[key]
        return st if st.dtype == dtype else Storage(dtype, st.untyped)

    with zf.open(pkls[0]) as p:
        up = SafeUnpickler(io.BytesIO(p.read()), extra, persistent)
        obj = up.load()
    return Loaded(finish(obj), "torch-zip", up.named)


# ---------------------------------------------------------------- legacy (torch < 1.6)
def _read_legacy(f: Any, size: int, extra: dict | None) -> Loaded:
    for what in ("magic number", "protocol version", "system info"):
        hdr = SafeUnpickler(f).load()
        if what == "magic number" and hdr != LEGACY_MAGIC:
            raise RefusedCheckpoint("malformed file: bad legacy torch magic number")
        if what == "protocol version" and hdr != 1001:
            raise RefusedCheckpoint(f"unsupported legacy torch protocol {hdr!r}")
        if what == "system info" and isinstance(hdr, dict) and hdr.get("little_endian") is False:
            raise RefusedCheckpoint("a torch file written on a big-endian machine; only little-endian is read")
    roots: dict[str, tuple[torch.dtype, bytearray, torch.UntypedStorage]] = {}
    budget = [size]

    def persistent(pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise RefusedCheckpoint(f"malformed file: unknown persistent id {str(pid)[:80]}")
        if pid[0] == "module" and len(pid) >= 2:  # very old whole-module pickles: ('module', cls, file, src)
            return pid[1]
        if pid[0] != "storage" or len(pid) != 6:
            raise RefusedCheckpoint(f"malformed file: unknown persistent id {str(pid)[:80]}")
        _, stype, key, _location, numel, view = pid
        dtype, key = _storage_type(stype), str(key)
        if not isinstance(numel, int) or numel < 0:
            raise RefusedCheckpoint("malformed file: bad storage size")
        if key not in roots:
            nbytes = numel * dtype.itemsize
            budget[0] -= nbytes
            if budget[0] < 0:
                raise RefusedCheckpoint("malformed file: its storages are larger than the file")
            buf = bytearray(nbytes)
            roots[key] = (dtype, buf, _untyped(buf))
        _root_dtype, _buf, untyped = roots[key]
        if view is None:
            return Storage(dtype, untyped)
        if not (isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int) and view[1] >= 0):
            raise RefusedCheckpoint("malformed file: bad storage view")
        return Storage(dtype, untyped, base=view[1])

    up = SafeUnpickler(f, extra, persistent)
    obj = up.load()
    keys = SafeUnpickler(f).load()
    if not isinstance(keys, list):
        raise RefusedCheckpoint("malformed file: no storage key list")
    for key in keys:
        key = str(key)
        if key not in roots:
            raise RefusedCheckpoint(f"malformed file: data for unknown storage {key}")
        dtype, buf, _ = roots[key]
        head = f.read(8)
        if len(head) != 8 or int.from_bytes(head, "little") * dtype.itemsize != len(buf):
            raise RefusedCheckpoint(f"malformed file: storage {key} has the wrong size or is truncated")
        if f.readinto(memoryview(buf)) != len(buf):
            raise RefusedCheckpoint(f"malformed file: storage {key} is truncated")
    return Loaded(finish(obj), "torch-legacy", up.named)


# ---------------------------------------------------------------- entry points
def _read_pickle(f: Any, extra: dict | None) -> Loaded:
    ex = {("torch.storage", "_load_from_bytes"): _load_from_bytes, **(extra or {})}
    up = SafeUnpickler(f, ex)
    obj = up.load()
    return Loaded(finish(obj), "pickle", up.named)


def _load_from_bytes(b: Any) -> Storage:
    """``torch.storage._load_from_bytes``: a storage pickled inside a plain pickle is a whole torch file."""
    if not isinstance(b, bytes | bytearray):
        raise RefusedCheckpoint("malformed file: a storage payload that is not bytes")
    got = _read(io.BytesIO(bytes(b)), len(b), None, nested=True).obj
    if isinstance(got, Storage):
        return got
    raise RefusedCheckpoint("malformed file: a nested storage payload that is not a storage")


def _read(f: Any, size: int, extra: dict | None, nested: bool = False) -> Loaded:
    head = f.read(16)
    f.seek(0)
    kind = sniff(head)
    if kind == "torch-zip":
        return _read_zip(f, size, extra)
    if kind == "torch-legacy":
        return _read_legacy(f, size, extra)
    if kind == "pickle" and not nested:
        return _read_pickle(f, extra)
    if not nested and size >= 512:
        try:
            if tarfile.is_tarfile(f):
                raise RefusedCheckpoint("a torch file in the pre-1.0 tar format, which is not supported; "
                                        "re-save its state dict with a current torch")
        finally:
            f.seek(0)
    raise RefusedCheckpoint("not a checkpoint: neither a torch file (zip or legacy) nor a pickle")


def read_bytes(data: bytes, extra: dict[tuple[str, str], Any] | None = None, name: str = "<bytes>") -> Loaded:
    return _guard(name, lambda: _read(io.BytesIO(data), len(data), extra))


def read(path: Path | str, extra: dict[tuple[str, str], Any] | None = None) -> Loaded:
    """Read a checkpoint file safely; ``extra`` adds the caller's own builders for more names (e.g. a
    family's persistent-network reconstructor). Raises :class:`RefusedCheckpoint` (a BadInput) naming
    the file and what was wrong."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint file {path} does not exist")

    def go() -> Loaded:
        with open(path, "rb") as f:
            return _read(f, path.stat().st_size, extra)
    return _guard(str(path), go)


def _guard(name: str, fn: Any) -> Loaded:
    try:
        return fn()
    except RefusedCheckpoint as e:
        raise type(e)(f"{name}: {e}") from None
    except (RecursionError, MemoryError) as e:
        raise RefusedCheckpoint(f"{name}: refused: the file is too deeply nested or too large "
                                f"({type(e).__name__})") from None
    except Exception as e:  # noqa: BLE001 - truncated, corrupt or hostile files all end here
        msg = str(e).splitlines()[0][:200] if str(e) else ""
        raise RefusedCheckpoint(f"{name}: not a readable checkpoint ({type(e).__name__}: {msg})") from None


def tensor_dict(obj: Any, where: str, *, allow_other: bool = False) -> dict[str, torch.Tensor]:
    """``obj`` as a mapping of names to tensors, or a refusal naming the first entry that is not one
    (a placeholder is named by its class reference). ``allow_other`` drops non-tensor entries instead."""
    if not isinstance(obj, dict):
        ref = placeholder_ref(obj)
        raise RefusedCheckpoint(f"{where} is {'a ' + ref if ref else type(obj).__name__}, "
                                "not a mapping of names to tensors")
    out: dict[str, torch.Tensor] = {}
    for k, v in obj.items():
        if isinstance(v, torch.Tensor) and isinstance(k, str):
            out[k] = v
        elif not allow_other:
            ref = placeholder_ref(v)
            what = f"a {ref} (kept inert)" if ref else type(v).__name__
            raise RefusedCheckpoint(f"{where}[{str(k)[:80]!r}] is {what}, not a tensor")
    return out
