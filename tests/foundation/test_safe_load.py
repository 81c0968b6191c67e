"""gallery.safe_load: the one safe reader of checkpoint files (torch zip, legacy torch, plain pickles)."""

from __future__ import annotations

import argparse
import copyreg
import io
import pickle
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from gallery import safe_load
from gallery.errors import BadInput
from gallery.safe_pickle import Placeholder, is_placeholder

FORMATS = ["zip", "legacy", "pickle"]


def _dump(obj: object, fmt: str) -> bytes:
    b = io.BytesIO()
    if fmt == "pickle":
        pickle.dump(obj, b, protocol=pickle.DEFAULT_PROTOCOL)
    else:
        torch.save(obj, b, _use_new_zipfile_serialization=fmt == "zip")
    return b.getvalue()


@contextmanager
def probe_module(marker: Path):
    """A module ``lg_probe`` whose classes write ``marker`` when created, called, built or given items
    (registered only while the block runs, as if the file's author had it installed)."""
    mod = types.ModuleType("lg_probe")

    def touch(what: str) -> None:
        marker.write_text(what)

    class Boom:
        def __init__(self, *a) -> None:
            touch("init")

        def __reduce__(self):
            return (Boom, ("arg",))

    class Stateful:
        def __setstate__(self, state) -> None:
            touch("setstate")

        def __reduce_ex__(self, proto):
            return (copyreg.__newobj__, (Stateful,), {"k": 1})

    def boom(*a) -> None:
        touch("function")

    class Callback:
        pass

    for obj in (Boom, Stateful, boom, Callback):
        obj.__module__, obj.__qualname__ = "lg_probe", obj.__name__
        setattr(mod, obj.__name__, obj)
    sys.modules["lg_probe"] = mod
    try:
        yield mod
    finally:
        sys.modules.pop("lg_probe", None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_tensors_and_plain_containers_round_trip(fmt: str) -> None:
    torch.manual_seed(0)
    base = torch.randn(4, 5)
    obj = {"w": base, "view": base[1:, 2:], "t": base.t(), "h": torch.randn(3).half(), "bf": torch.randn(2).bfloat16(),
           "i": torch.arange(7), "b": torch.tensor([True, False]), "c": torch.randn(2, dtype=torch.complex64),
           "p": torch.nn.Parameter(torch.ones(2)), "empty": torch.zeros(0, 3), "scalar": torch.tensor(2.5),
           "od": OrderedDict(a=1), "set": {1, 2}, "tuple": (1, "x", None), "np": np.arange(6.0).reshape(2, 3),
           "npf": np.asfortranarray(np.arange(6, dtype=np.int16).reshape(2, 3)), "npscalar": np.float32(1.5),
           "dtype": torch.float16, "device": torch.device("cpu"), "size": torch.Size([2, 3]), "bytes": b"\x00\xff"}
    got = safe_load.read_bytes(_dump(obj, fmt))
    assert got.format == {"zip": "torch-zip", "legacy": "torch-legacy", "pickle": "pickle"}[fmt] and not got.named
    o = got.obj
    for k in ("w", "view", "t", "h", "bf", "i", "b", "c", "p", "empty", "scalar"):
        assert o[k].dtype == obj[k].dtype and torch.equal(o[k], obj[k]), k
    assert isinstance(o["p"], torch.nn.Parameter)
    if fmt != "pickle":  # torch files store a view's storage once (plain pickles copy it per tensor)
        assert o["view"].untyped_storage().data_ptr() == o["w"].untyped_storage().data_ptr()
    assert np.array_equal(o["np"], obj["np"]) and np.array_equal(o["npf"], obj["npf"]) and o["npscalar"] == 1.5
    assert (o["od"], o["set"], o["tuple"], o["dtype"], o["device"], tuple(o["size"]), o["bytes"]) == \
        (OrderedDict(a=1), {1, 2}, (1, "x", None), torch.float16, torch.device("cpu"), (2, 3), b"\x00\xff")


@pytest.mark.parametrize("fmt", FORMATS)
def test_named_classes_become_inert_placeholders(fmt: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with probe_module(marker) as mod:
        data = _dump({"args": argparse.Namespace(lr=0.1, size=256), "callbacks": {mod.Callback: {"best": 1.0}},
                      "boom": mod.Boom(), "state": mod.Stateful(), "w": torch.ones(2)}, fmt)
        marker.unlink()  # Boom() above wrote it
        got = safe_load.read_bytes(data)  # the module is importable right now: still never used
        assert not marker.exists()
        # sanity check of the test itself: an ordinary load calls the file's classes
        (torch.load(io.BytesIO(data), weights_only=False) if fmt != "pickle" else pickle.loads(data))
        assert marker.exists()
    o = got.obj
    assert set(got.named) == {"argparse.Namespace", "lg_probe.Callback", "lg_probe.Boom", "lg_probe.Stateful"}
    assert is_placeholder(o["args"]) and o["args"].ref == "argparse.Namespace"
    assert o["args"].state == {"lr": 0.1, "size": 256}  # BUILD only recorded the state
    (key,) = o["callbacks"]  # a class used as a dict key stays one key
    assert is_placeholder(key) and isinstance(key, type) and o["callbacks"][key] == {"best": 1.0}
    assert o["boom"].args == ("arg",)  # REDUCE on a placeholder class recorded its arguments
    assert o["state"].state == {"k": 1}
    assert torch.equal(o["w"], torch.ones(2))
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(o["args"])


def test_named_modules_are_never_imported() -> None:
    # GLOBAL 'this s' (importing `this` prints the Zen of Python), REDUCE with an argument, then BUILD
    raw = b"\x80\x02cthis\ns\nX\x01\x00\x00\x00a\x85R}X\x01\x00\x00\x00kK\x01sb."
    sys.modules.pop("this", None)
    got = safe_load.read_bytes(raw)
    assert "this" not in sys.modules and got.named == {"this.s": 1}
    assert isinstance(got.obj, Placeholder) and got.obj.args == ("a",) and got.obj.state == {"k": 1}


class _Call:
    def __init__(self, fn, *args) -> None:
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("payload", "name"), [
    (lambda m: _Call(__import__("os").system, f"touch {m}"), r"(posix|os)\.system"),
    (lambda m: _Call(eval, f"open({str(m)!r}, 'w')"), r"(__builtin__|builtins)\.eval"),
    (lambda m: _Call(getattr, (), "__class__"), r"(__builtin__|builtins)\.getattr"),
    (lambda m: _Call(__import__("subprocess").call, ["touch", str(m)]), r"(subprocess|commands)\.call"),
    (lambda m: _Call(__import__("importlib").import_module, "this"), r"importlib\.import_module"),
])
def test_code_running_payloads_are_refused_by_name(fmt: str, payload, name: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    data = _dump({"state_dict": {"w": torch.zeros(2)}, "x": payload(marker)}, fmt)
    with pytest.raises(safe_load.RefusedCheckpoint, match=rf"refused: the file asks to call or create {name}") as e:
        safe_load.read_bytes(data, name="evil.pt")
    msg = str(e.value)
    assert msg.startswith("evil.pt: ") and "nothing from the file was run" in msg
    assert "weights_only" not in msg and "unsafe" not in msg.lower()
    assert not marker.exists()
    assert isinstance(e.value, BadInput)


def test_malformed_and_hostile_structures(tmp_path: Path) -> None:
    good = _dump({"w": torch.arange(10.0)}, "legacy")
    with pytest.raises(BadInput, match="truncated"):
        safe_load.read_bytes(good[:-12])  # truncated storage data
    # a storage that claims to be larger than the file is refused before anything is allocated
    big = good.replace(b"K\nN", b"J\x00\x00\x00\x40N", 1)  # numel 10 -> 2**30 in the storage's persistent id
    assert big != good
    with pytest.raises(BadInput, match="larger than the file"):
        safe_load.read_bytes(big)
    # a tensor pointing outside its storage
    sneaky = _dump({"w": torch.arange(4.0)}, "legacy").replace(b"K\x04\x85", b"K\x09\x85", 1)
    assert sneaky != _dump({"w": torch.arange(4.0)}, "legacy")
    with pytest.raises(BadInput, match="outside its storage"):
        safe_load.read_bytes(sneaky)
    with pytest.raises(BadInput, match="not a checkpoint"):
        safe_load.read_bytes(b"hello, this is text")
    # numpy object arrays are not weights
    with pytest.raises(BadInput, match="numpy object"):
        safe_load.read_bytes(pickle.dumps(np.array([None, 1], dtype=object)))
    # a TorchScript archive is named as such
    ts = tmp_path / "m.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(ts))
    with pytest.raises(BadInput, match="TorchScript"):
        safe_load.read(ts)
    with pytest.raises(BadInput, match="does not exist"):
        safe_load.read(tmp_path / "missing.pt")


def test_tensor_dict_names_what_is_not_a_tensor() -> None:
    got = safe_load.read_bytes(_dump({"sd": {"a": torch.ones(1), "b": argparse.Namespace()}}, "zip"))
    with pytest.raises(BadInput, match=r"f: sd\['b'\] is a argparse.Namespace \(kept inert\), not a tensor"):
        safe_load.tensor_dict(got.obj["sd"], "f: sd")
    assert list(safe_load.tensor_dict(got.obj["sd"], "f", allow_other=True)) == ["a"]
    assert safe_load.describe({"b.B": 1, "a.A": 2}) == "a.A, b.B"


@pytest.mark.parametrize("protocol", [0, 1, 2, 5])
def test_old_pickle_protocols_keep_objects_inert(protocol: int, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with probe_module(marker) as mod:
        obj = mod.Callback()
        obj.x = 1
        data = pickle.dumps({"o": obj, "ns": argparse.Namespace(a=1), "t": (1, 2)}, protocol=protocol)
    got = safe_load.read_bytes(data)  # protocols 0/1 go through copyreg._reconstructor(cls, object, None)
    assert got.obj["o"].state == {"x": 1} and got.obj["ns"].state == {"a": 1} and got.obj["t"] == (1, 2)
    assert not marker.exists()


def test_builtin_constructors_take_only_bounded_plain_data() -> None:
    with pytest.raises(BadInput, match="a bytes built from int"):  # bytes(2**30) would allocate a GiB
        safe_load.read_bytes(b"cbuiltins\nbytes\n(J\x00\x00\x00\x40tR.")
    assert safe_load.read_bytes(b"cbuiltins\nint\n(X\x02\x00\x00\x0042tR.").obj == 42
