"""The unpickler behind :mod:`gallery.safe_load`: builds tensors, arrays and plain containers, nothing else.

A pickle names globals (``module.qualname``) and asks for them to be called. Here no name from a file is
ever imported, looked up or called:

* a short allowlist of names is answered with this module's own builders (tensors from storages, numpy
  arrays from raw bytes, ``OrderedDict``, ``set``, torch dtypes ...), each checking its arguments;
* names that only ever mean running code or touching the system (``os.system``, ``builtins.eval``,
  ``subprocess.*``, ``importlib.*`` ...) are refused at once, so a booby-trapped file gets a clear answer;
* every other name becomes an inert **placeholder class** (one per name, so a class used as a dict key,
  as PyTorch Lightning 1.x does for its ``callbacks``, is still one key). Calling it (``REDUCE``,
  ``NEWOBJ``), giving it state (``BUILD``) or items (``SETITEMS``, ``APPENDS``) only records what was
  given: an ``argparse.Namespace``, a Lightning callback or an optimizer's class become
  :class:`Placeholder` objects holding plain data, and the names are reported.

The refusal message names what was refused and never suggests loading the file another way.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from typing import Any

import numpy as np
import torch

from gallery.errors import BadInput


class RefusedCheckpoint(BadInput):
    """The file asks for something a checkpoint of weights has no business doing (or is not one)."""


# Modules whose names only ever mean running code, reaching the system or loading more pickles. Nothing
# named is ever called anyway; refusing these outright makes the answer to a malicious file explicit.
UNSAFE_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "builtins", "__builtin__", "shutil",
    "importlib", "runpy", "pty", "socket", "pickle", "_pickle", "cPickle", "marshal", "code", "codeop",
    "ctypes", "_ctypes", "types", "functools", "operator", "webbrowser", "commands", "platform", "pdb",
    "bdb", "timeit", "multiprocessing", "threading", "_thread", "signal", "asyncio", "io", "_io",
    "tempfile", "glob", "ssl", "http", "urllib", "ftplib", "smtplib", "telnetlib", "shelve", "dill",
    "cloudpickle", "joblib", "sysconfig", "site", "inspect", "gc", "_winapi", "winreg", "copyreg", "copy_reg",
    "torch.hub", "torch.jit", "torch.ops", "torch.serialization", "torch.utils.cpp_extension", "torch._C",
    "torch.package", "torch._dynamo", "torch.fx", "numpy.testing", "numpy.f2py", "numpy.distutils",
    "numpy.lib.npyio", "numpy.load", "pip", "setuptools", "distutils",
})
UNSAFE_NAMES = frozenset({("torch", "load"), ("torch", "hub"), ("torch", "jit"), ("numpy", "load"),
                          ("torch", "_C"), ("torch", "ops"), ("torch", "compile")})


def unsafe(module: str, name: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in UNSAFE_MODULES for i in range(1, len(parts) + 1)) \
        or (module, name.split(".")[0]) in UNSAFE_NAMES


# ---------------------------------------------------------------- placeholders
class Placeholder:
    """An inert stand-in for an object of a class the file names (never imported): what the file gave
    it (call arguments, ``BUILD`` state, dict items, list items) is kept as plain data."""

    ref: str = "?"

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        obj = object.__new__(cls)
        obj.__dict__.update(args=args, kwargs=kwargs, state=None, items={}, list_items=[])
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # arguments were recorded by __new__
        pass

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state

    def __setitem__(self, key: Any, value: Any) -> None:
        self.__dict__["items"][key] = value

    def append(self, value: Any) -> None:
        self.__dict__["list_items"].append(value)

    def extend(self, values: Any) -> None:
        self.__dict__["list_items"].extend(values)

    def __repr__(self) -> str:
        return f"<placeholder {self.ref}>"

    def __reduce__(self) -> Any:  # never write one back out as if it were the real thing
        raise TypeError(f"a placeholder for {self.ref} cannot be pickled")


def placeholder_class(ref: str) -> type[Placeholder]:
    """A fresh placeholder class for ``module.qualname`` (the unpickler keeps one per name and file)."""
    return type(f"Placeholder[{ref}]", (Placeholder,), {"ref": ref, "__module__": __name__})


def is_placeholder(x: Any) -> bool:
    return isinstance(x, Placeholder) or (isinstance(x, type) and issubclass(x, Placeholder))


def placeholder_ref(x: Any) -> str | None:
    """``module.qualname`` of a placeholder class or object, else None."""
    return x.ref if is_placeholder(x) else None


# ---------------------------------------------------------------- storages and tensors
STORAGE_DTYPES = {
    "DoubleStorage": torch.float64, "FloatStorage": torch.float32, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "ComplexFloatStorage": torch.complex64, "ComplexDoubleStorage": torch.complex128,
    "UntypedStorage": torch.uint8,
}
TORCH_DTYPES = {n: getattr(torch, n) for n in (
    "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "complex64", "complex128", "float", "double", "half", "long", "int", "short")}


class StorageType:
    """What a file's ``torch.FloatStorage`` (or ``torch.cuda.FloatStorage``) name stands for: a dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class Storage:
    """Raw bytes of one stored tensor storage (``base`` elements into ``untyped``, for legacy views)."""

    def __init__(self, dtype: torch.dtype, untyped: torch.UntypedStorage, base: int = 0) -> None:
        self.dtype, self.untyped, self.base = dtype, untyped, base

    def as_tensor(self) -> torch.Tensor:
        n = self.untyped.nbytes() // self.dtype.itemsize - self.base
        return torch.empty(0, dtype=self.dtype).set_(self.untyped, self.base, (n,), (1,))


def _ints(*vals: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in vals)


def _no_hooks(hooks: Any) -> None:
    if hooks:
        raise RefusedCheckpoint("refused: a tensor in the file carries backward hooks (callables)")


def rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                   backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    _no_hooks(backward_hooks)
    if isinstance(storage, Storage):
        dtype, untyped, offset = storage.dtype, storage.untyped, (offset + storage.base if _ints(offset) else -1)
    else:
        raise RefusedCheckpoint("malformed file: tensor data is not a stored tensor storage")
    if not (isinstance(size, tuple | list) and isinstance(stride, tuple | list) and len(size) == len(stride)
            and _ints(offset, *size, *stride)):
        raise RefusedCheckpoint("malformed file: bad tensor geometry")
    numel = 1 + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) if all(size) else 0
    if (offset + numel) * dtype.itemsize > untyped.nbytes():
        raise RefusedCheckpoint("malformed file: a tensor points outside its storage")
    t = torch.empty(0, dtype=dtype).set_(untyped, offset, tuple(size), tuple(stride))
    return t.requires_grad_(bool(requires_grad)) if t.is_floating_point() else t


def rebuild_tensor_v1(storage: Any, offset: Any, size: Any, stride: Any) -> torch.Tensor:
    return rebuild_tensor(storage, offset, size, stride)


def rebuild_parameter(data: Any, requires_grad: Any, backward_hooks: Any, state: Any = None) -> torch.Tensor:
    _no_hooks(backward_hooks)
    if not isinstance(data, torch.Tensor):
        raise RefusedCheckpoint("malformed file: a parameter's data is not a tensor")
    return torch.nn.Parameter(data.detach(), requires_grad=bool(requires_grad) and data.is_floating_point())


_TENSOR_CLASS = object()
_PARAMETER_CLASS = object()


def rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> torch.Tensor:
    if func not in (rebuild_tensor, rebuild_parameter) or new_type not in (_TENSOR_CLASS, _PARAMETER_CLASS) \
            or not isinstance(args, tuple):
        raise RefusedCheckpoint("refused: a tensor subclass or a tensor built by an unknown function")
    t = func(*args)
    return torch.nn.Parameter(t.detach(), requires_grad=t.requires_grad) if new_type is _PARAMETER_CLASS else t


def make_device(kind: Any, index: Any = None) -> torch.device:
    if not isinstance(kind, str) or not (index is None or _ints(index)):
        raise RefusedCheckpoint("malformed file: a torch.device that is not a name")
    return torch.device(kind) if index is None else torch.device(kind, index)


def make_size(dims: Any = ()) -> tuple[int, ...]:
    if not isinstance(dims, tuple | list) or not _ints(*dims):
        raise RefusedCheckpoint("malformed file: a torch.Size of non-integers")
    return tuple(dims)


# ---------------------------------------------------------------- numpy
class NumpyDType:
    """numpy.dtype(name, align, copy) + BUILD: only plain numeric dtypes (no objects, no fields)."""

    def __init__(self, name: Any, *_: Any) -> None:
        if not isinstance(name, str):
            raise RefusedCheckpoint(f"malformed file: numpy dtype {name!r}")
        try:
            self.dtype = np.dtype(name)
        except TypeError:
            raise RefusedCheckpoint(f"malformed file: numpy dtype {name!r}") from None
        if self.dtype.hasobject or self.dtype.kind == "V":
            raise RefusedCheckpoint("refused: numpy object or structured arrays are not weights")

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) < 2 or any(x is not None for x in state[2:5]):
            raise RefusedCheckpoint("refused: a numpy dtype with sub-arrays or fields")
        if state[1] in ("<", ">", "|", "="):
            self.dtype = self.dtype.newbyteorder(state[1])


class NumpyArray:
    """numpy.core.multiarray._reconstruct + BUILD; :func:`finish` swaps it for the real array."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) != 5:
            raise RefusedCheckpoint("malformed file: numpy array state")
        _version, shape, dtype, fortran, raw = state
        if isinstance(raw, str):
            raw = raw.encode("latin-1")
        if not isinstance(dtype, NumpyDType) or not isinstance(raw, bytes | bytearray) \
                or not isinstance(shape, tuple) or not _ints(*shape):
            raise RefusedCheckpoint("refused: a numpy array that holds Python objects or is malformed")
        flat = np.frombuffer(bytes(raw), dtype=dtype.dtype)
        if flat.size != int(np.prod(shape)):
            raise RefusedCheckpoint("malformed file: a numpy array's size does not match its data")
        self.array = flat.reshape(shape, order="F" if fortran else "C").copy()


def _ndarray_reconstruct(cls: Any, shape: Any = None, dtype: Any = None) -> NumpyArray:
    return NumpyArray()


def _np_scalar(dtype: Any, raw: Any = None) -> Any:
    if isinstance(raw, str):
        raw = raw.encode("latin-1")
    if not isinstance(dtype, NumpyDType) or not isinstance(raw, bytes) or len(raw) != dtype.dtype.itemsize:
        raise RefusedCheckpoint("malformed file: a numpy scalar")
    return np.frombuffer(raw, dtype=dtype.dtype)[0]


# ---------------------------------------------------------------- plain builtins, checked
def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise RefusedCheckpoint("malformed file: _codecs.encode of something other than text")
    return text.encode(encoding)


def _container(kind: type) -> Any:
    def build(items: Any = ()) -> Any:
        if not isinstance(items, list | tuple | set | frozenset | dict | str | bytes):
            raise RefusedCheckpoint(f"malformed file: a {kind.__name__} of {type(items).__name__}")
        return kind(items)
    return build


def _bytearray(data: Any = b"", *rest: Any) -> bytearray:
    if isinstance(data, str) and rest:
        return bytearray(_codecs_encode(data, rest[0]))
    if not isinstance(data, bytes | bytearray | list):
        raise RefusedCheckpoint("malformed file: a bytearray of something other than bytes")
    return bytearray(data)


def _defaultdict(factory: Any = None, items: Any = ()) -> dict:
    return dict(items) if isinstance(items, dict | list | tuple) else {}


def _ordered_dict(items: Any = ()) -> OrderedDict:
    if not isinstance(items, list | tuple | dict):
        raise RefusedCheckpoint("malformed file: an OrderedDict of something other than pairs")
    return OrderedDict(items)


def _slice(*args: Any) -> slice:
    if not all(a is None or isinstance(a, int) for a in args):
        raise RefusedCheckpoint("malformed file: a slice of non-integers")
    return slice(*args)


def _complex(re: Any = 0.0, im: Any = 0.0) -> complex:
    if not all(isinstance(v, int | float) for v in (re, im)):
        raise RefusedCheckpoint("malformed file: a complex of non-numbers")
    return complex(re, im)


def _reconstructor(cls: Any, base: Any = None, state: Any = None) -> Any:
    """copyreg._reconstructor, for objects pickled with protocols 0 and 1: only placeholders."""
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        return cls(state) if state is not None else cls()
    raise RefusedCheckpoint("refused: copyreg._reconstructor of a class that is not a named placeholder")


def _plain(kind: type) -> Any:
    """A builtin type named by a file (dict subclasses, protocol 0/1 objects): built only from plain data of
    bounded size, never from a placeholder."""
    def build(*args: Any) -> Any:
        if any(isinstance(a, Placeholder) or (isinstance(a, int) and not isinstance(a, bool) and kind is bytes)
               for a in args):
            raise RefusedCheckpoint(f"malformed file: a {kind.__name__} built from {type(args[0]).__name__}")
        if not all(isinstance(a, str | bytes | int | float | bool | list | tuple | dict | type(None)) for a in args):
            raise RefusedCheckpoint(f"malformed file: a {kind.__name__} built from something that is not plain data")
        return kind(*args)
    return build


_OBJECT = object()  # builtins.object: only ever the base argument of copyreg._reconstructor

ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("collections", "defaultdict"): _defaultdict,
    ("builtins", "set"): _container(set), ("__builtin__", "set"): _container(set),
    ("builtins", "frozenset"): _container(frozenset), ("__builtin__", "frozenset"): _container(frozenset),
    ("builtins", "bytearray"): _bytearray, ("__builtin__", "bytearray"): _bytearray,
    ("builtins", "slice"): _slice, ("builtins", "complex"): _complex, ("__builtin__", "complex"): _complex,
    ("_codecs", "encode"): _codecs_encode,
    ("copyreg", "_reconstructor"): _reconstructor, ("copy_reg", "_reconstructor"): _reconstructor,
    ("torch._utils", "_rebuild_tensor"): rebuild_tensor_v1,
    ("torch._utils", "_rebuild_tensor_v2"): rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
    ("torch._utils", "_rebuild_from_type_v2"): rebuild_from_type_v2,
    ("torch._tensor", "_rebuild_from_type_v2"): rebuild_from_type_v2,
    ("torch", "Tensor"): _TENSOR_CLASS, ("torch._tensor", "Tensor"): _TENSOR_CLASS,
    ("torch.nn.parameter", "Parameter"): _PARAMETER_CLASS,
    ("torch", "device"): make_device, ("torch", "Size"): make_size,
    ("numpy", "dtype"): NumpyDType,
    ("numpy", "ndarray"): object(),  # only ever an argument of _reconstruct
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
}
for _mod in ("builtins", "__builtin__"):
    ALLOWED[(_mod, "object")] = _OBJECT
    for _t in (list, dict, tuple, int, float, str, bool, bytes):
        ALLOWED[(_mod, _t.__name__)] = _plain(_t)
for _n, _dt in STORAGE_DTYPES.items():
    ALLOWED[("torch", _n)] = ALLOWED[("torch.cuda", _n)] = StorageType(_dt)
ALLOWED[("torch.storage", "UntypedStorage")] = StorageType(torch.uint8)
for _n, _dt in TORCH_DTYPES.items():
    ALLOWED[("torch", _n)] = _dt


class SafeUnpickler(pickle.Unpickler):
    """See the module doc. ``extra`` maps more ``(module, name)`` to the caller's own safe builders;
    ``persistent`` answers persistent ids (torch's storages); ``named`` counts the placeholders made."""

    def __init__(self, file: Any, extra: dict[tuple[str, str], Any] | None = None,
                 persistent: Any = None) -> None:
        super().__init__(file)
        self.extra = extra or {}
        self.persistent = persistent
        self.named: dict[str, int] = {}
        self._classes: dict[str, type[Placeholder]] = {}

    def find_class(self, module: str, name: str) -> Any:
        if not isinstance(module, str) or not isinstance(name, str):
            raise RefusedCheckpoint("malformed file: a global whose name is not text")
        key = (module, name)
        if key in self.extra:
            return self.extra[key]
        if key in ALLOWED:
            return ALLOWED[key]
        ref = f"{module}.{name}"
        if unsafe(module, name):
            raise RefusedCheckpoint(f"refused: the file asks to call or create {ref}, which a checkpoint of "
                                    "weights never needs; nothing from the file was run or imported")
        self.named[ref] = self.named.get(ref, 0) + 1
        if ref not in self._classes:
            self._classes[ref] = placeholder_class(ref)
        return self._classes[ref]

    def persistent_load(self, pid: Any) -> Any:
        if self.persistent is None:
            raise RefusedCheckpoint("malformed file: a plain pickle with persistent ids")
        return self.persistent(pid)
