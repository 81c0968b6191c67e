"""Read real StyleGAN2 checkpoints (NVIDIA, rosinality) without executing anything from the file;
:func:`generator.stylegan.checkpoints.import_checkpoint` stores what they hold in our own format.

NVIDIA's ``.pkl`` files (stylegan2-ada-pytorch, stylegan3) are plain pickles of a dict ``{'G', 'D',
'G_ema', 'augment_pipe', 'training_set_kwargs'}`` whose networks are "persistent" objects: each is
pickled as a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta`` holds
the Python source of the module that defines the class (``module_src``), the class name and the
module's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs`` ...). Loading
such a file with ``pickle.load`` executes that source. We never do: ``SafeUnpickler.find_class``
answers only a fixed list of names, each with our own function that builds tensors or plain data
(``_reconstruct_persistent_obj`` returns an inert ``StoredModule``; storages are read with
``torch.load(weights_only=True)``); any other global (``os.system``, ``builtins.eval``, ...) is refused
before it is looked up. The stored module tree is then flattened into a state dict and loaded
strictly into our Generator and Discriminator, which use NVIDIA's parameter names.

rosinality's ``.pt`` files are read with ``torch.load(weights_only=True)`` and renamed.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gallery.errors import BadInput
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import StyleGANConfig


class RefusedCheckpoint(BadInput):
    """The file asks for something a checkpoint has no business doing (or is not a checkpoint)."""


@dataclass
class StoredModule:
    """An NVIDIA persistent object, never instantiated: its class name and stored ``__dict__``."""

    class_name: str
    state: dict[str, Any]
    source_chars: int = 0
    children: dict[str, Any] = field(default_factory=dict)


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (a dict with attribute access): here, just a dict."""


class _NDArrayStub:
    """Rebuilt numpy array (from ``numpy.core.multiarray._reconstruct`` + ``__setstate__``)."""

    def __init__(self) -> None:
        self.array: np.ndarray | None = None

    def __setstate__(self, state: tuple) -> None:
        _version, shape, dtype, _fortran, raw = state
        dt = dtype.dtype if isinstance(dtype, _DTypeStub) else None
        if dt is None or not isinstance(raw, bytes | bytearray) or dt.hasobject:
            raise RefusedCheckpoint("a numpy array in the checkpoint holds Python objects")
        self.array = np.frombuffer(bytes(raw), dtype=dt).reshape(shape).copy()


class _DTypeStub:
    def __init__(self, name: Any, *_: Any) -> None:
        if not isinstance(name, str):
            raise RefusedCheckpoint(f"bad numpy dtype {name!r} in checkpoint")
        self.dtype = np.dtype(name)
        if self.dtype.hasobject:
            raise RefusedCheckpoint("numpy object arrays are not allowed in checkpoints")

    def __setstate__(self, state: tuple) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.dtype = self.dtype.newbyteorder(state[1])


def _reconstruct_persistent_obj(meta: Any) -> StoredModule:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise RefusedCheckpoint("unexpected persistent object (only persistent classes with a state dict are read)")
    return StoredModule(str(meta.get("class_name")), meta["state"], len(meta.get("module_src") or ""))


def _check_hooks(hooks: Any) -> None:
    if hooks:
        raise RefusedCheckpoint("a tensor in the checkpoint carries backward hooks (callables)")


def _rebuild_tensor_v2(storage: Any, offset: int, size: tuple, stride: tuple, requires_grad: bool = False,
                       backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    _check_hooks(backward_hooks)
    if not isinstance(storage, torch.TypedStorage | torch.UntypedStorage):
        raise RefusedCheckpoint("tensor data is not a torch storage")
    if not (isinstance(offset, int) and all(isinstance(v, int) for v in (*size, *stride))):
        raise RefusedCheckpoint("malformed tensor geometry")
    if isinstance(storage, torch.TypedStorage):
        dtype, untyped = storage.dtype, storage._untyped_storage
    else:
        dtype, untyped = torch.uint8, storage
    numel = 1 + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) if all(size) else 0
    if offset < 0 or (offset + numel) * dtype.itemsize > untyped.nbytes():
        raise RefusedCheckpoint("tensor geometry points outside its storage")
    return torch.empty(0, dtype=dtype).set_(untyped, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: Any, requires_grad: bool, backward_hooks: Any, state: Any = None) -> torch.Tensor:
    _check_hooks(backward_hooks)
    if state:
        raise RefusedCheckpoint("a parameter carries extra Python state")
    if not isinstance(data, torch.Tensor):
        raise RefusedCheckpoint("parameter data is not a tensor")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


def _rebuild_from_type_v2(func: Any, new_type: Any, args: tuple, state: Any) -> torch.Tensor:
    if func not in (_rebuild_tensor_v2, _rebuild_parameter) or new_type not in _TENSOR_TYPES or state:
        raise RefusedCheckpoint("unexpected tensor subclass or tensor state")
    return func(*args)


def _load_storage_bytes(b: Any) -> Any:
    if not isinstance(b, bytes | bytearray):
        raise RefusedCheckpoint("storage payload is not bytes")
    try:
        return torch.load(io.BytesIO(bytes(b)), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - anything torch refuses, we refuse
        raise RefusedCheckpoint(f"a tensor storage in the checkpoint could not be read safely: {e}") from None


def _ndarray_reconstruct(cls: Any, shape: Any, dtype: Any) -> _NDArrayStub:
    return _NDArrayStub()


def _np_scalar(dtype: Any, raw: Any = None) -> Any:
    if not isinstance(dtype, _DTypeStub) or not isinstance(raw, bytes):
        raise RefusedCheckpoint("malformed numpy scalar")
    return np.frombuffer(raw, dtype=dtype.dtype)[0].item()


class _Token:
    """A harmless placeholder for a type name that only appears as an argument (e.g. numpy.ndarray)."""

    def __init__(self, name: str) -> None:
        self.name = name


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("__builtin__", "set"): set,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._utils", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("numpy", "dtype"): _DTypeStub,
    ("numpy", "ndarray"): _Token("numpy.ndarray"),
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
}


class SafeUnpickler(pickle.Unpickler):
    """Rebuilds tensors, numpy arrays and plain containers; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        fn = _ALLOWED.get((module, name))
        if fn is None:
            raise RefusedCheckpoint(f"refused: the checkpoint asks to call or create {module}.{name}, which a "
                                    "checkpoint of weights never needs (nothing from the file was executed)")
        return fn

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedCheckpoint("refused: plain pickle with persistent ids (not a NVIDIA network pickle)")


def _unwrap(x: Any) -> Any:
    if isinstance(x, _NDArrayStub):
        return x.array
    return x


def safe_load_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        try:
            return SafeUnpickler(f).load()
        except RefusedCheckpoint:
            raise
        except Exception as e:  # noqa: BLE001 - truncated or corrupt files
            raise RefusedCheckpoint(f"{path}: not a readable network pickle ({type(e).__name__}: {e})") from None


def flatten(obj: StoredModule, prefix: str = "") -> dict[str, torch.Tensor]:
    """The state dict (parameters and persistent buffers) of a stored module tree."""
    out: dict[str, torch.Tensor] = {}
    st = obj.state
    non_persistent = st.get("_non_persistent_buffers_set") or set()
    for name, p in (st.get("_parameters") or {}).items():
        if p is not None:
            out[prefix + name] = p.detach() if isinstance(p, torch.Tensor) else p
    for name, b in (st.get("_buffers") or {}).items():
        if b is not None and name not in non_persistent:
            out[prefix + name] = b
    for name, child in (st.get("_modules") or {}).items():
        if isinstance(child, StoredModule):
            out.update(flatten(child, f"{prefix}{name}."))
        elif child is not None:
            raise RefusedCheckpoint(f"module {prefix}{name} is not a stored network module")
    return out


def _child(obj: StoredModule, name: str) -> StoredModule | None:
    c = (obj.state.get("_modules") or {}).get(name)
    return c if isinstance(c, StoredModule) else None


def config_from_state(G: dict[str, torch.Tensor], g_obj: StoredModule | None = None) -> StyleGANConfig:
    """Infer the StyleGAN2 configuration from a generator's state dict (and stored attributes)."""
    try:
        z_dim = G["mapping.fc0.weight"].shape[1]
        w_dim = G["mapping.w_avg"].shape[0]
    except KeyError:
        raise BadInput("not a StyleGAN2 generator: no mapping.fc0.weight / mapping.w_avg") from None
    if any(k.startswith("mapping.embed") for k in G):
        raise BadInput("conditional (class-label) StyleGAN checkpoints are not supported")
    layers = 0
    while f"mapping.fc{layers}.weight" in G:
        layers += 1
    res = [int(k.split(".")[1][1:]) for k in G if k.startswith("synthesis.b") and k.endswith(".torgb.weight")]
    if not res:
        if any(k.startswith(("synthesis.L0_", "synthesis.input.")) for k in G):
            raise BadInput("this is a StyleGAN3 (alias-free, -t/-r) generator; only StyleGAN2-architecture "
                           "networks are supported (the stylegan3 repository's stylegan2 pickles load)")
        raise BadInput("not a StyleGAN2 synthesis network (no synthesis.b*.torgb)")
    resolution = max(res)
    chans = {r: G[f"synthesis.b{r}.torgb.weight"].shape[1] for r in res}
    cmax = max(chans.values())
    below = [r for r in sorted(chans) if chans[r] < cmax]
    cbase = chans[below[0]] * below[0] if below else cmax * resolution
    clamp = None
    if g_obj is not None:
        conv = _child(_child(_child(g_obj, "synthesis") or g_obj, "b4") or g_obj, "conv1")
        if conv is not None and conv.state.get("conv_clamp") is not None:
            clamp = float(conv.state["conv_clamp"])
    cfg = StyleGANConfig(resolution=resolution, z_dim=z_dim, w_dim=w_dim, mapping_layers=layers, channel_base=cbase,
                         channel_max=cmax, img_channels=G[f"synthesis.b{resolution}.torgb.weight"].shape[0],
                         conv_clamp=clamp)
    if any(cfg.channels(r) != c for r, c in chans.items()):
        raise BadInput(f"unusual channel layout {chans}: cannot express it as channel_base/channel_max")
    return cfg


def _load_strict(module: torch.nn.Module, sd: dict[str, torch.Tensor], what: str) -> None:
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or wrong:
        def few(x: list[str]) -> str:
            return ", ".join(x[:5]) + (" ..." if len(x) > 5 else "")

        raise BadInput(f"{what} does not match the StyleGAN2 architecture: missing [{few(missing)}], "
                       f"unexpected [{few(unexpected)}], wrong shape [{few(wrong)}]")
    module.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)


def read_nvidia_pkl(path: Path) -> tuple[StyleGANConfig, Generator, Discriminator | None, dict[str, Any]]:
    data = safe_load_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), StoredModule):
        raise BadInput(f"{path}: not a StyleGAN network pickle (no G_ema network in it)")
    g_obj = data["G_ema"]
    g_sd = flatten(g_obj)
    cfg = config_from_state(g_sd, g_obj)
    G = Generator(cfg)
    _load_strict(G, g_sd, f"{path.name}: G_ema")
    D = None
    if isinstance(data.get("D"), StoredModule):
        d_sd = flatten(data["D"])
        D = Discriminator(cfg)
        _load_strict(D, d_sd, f"{path.name}: D")
    kw = g_obj.state.get("_init_kwargs") or {}
    meta = {"source_format": "nvidia-pkl", "class": g_obj.class_name,
            "init_kwargs": {k: v for k, v in dict(kw).items() if isinstance(v, int | float | str | bool)},
            "training_set_kwargs": {k: _unwrap(v) for k, v in dict(data.get("training_set_kwargs") or {}).items()
                                    if isinstance(_unwrap(v), int | float | str | bool | type(None))}}
    return cfg, G, D, meta


def _ros_rename(sd: dict[str, torch.Tensor], cfg_res: int) -> dict[str, torch.Tensor]:
    """rosinality/stylegan2-pytorch Generator keys -> NVIDIA names (same tensors, some reshaped)."""
    out: dict[str, torch.Tensor] = {}
    i = 1
    while f"style.{i}.weight" in sd:
        out[f"mapping.fc{i - 1}.weight"] = sd[f"style.{i}.weight"]
        out[f"mapping.fc{i - 1}.bias"] = sd[f"style.{i}.bias"]
        i += 1

    def conv(src: str, dst: str, noise: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.noise_strength"] = sd[f"{src}.noise.weight"].reshape([])
        out[f"{dst}.bias"] = sd[f"{src}.activate.bias"]
        out[f"{dst}.noise_const"] = sd[noise][0, 0]

    def torgb(src: str, dst: str) -> None:
        out[f"{dst}.weight"] = sd[f"{src}.conv.weight"][0]
        out[f"{dst}.affine.weight"] = sd[f"{src}.conv.modulation.weight"]
        out[f"{dst}.affine.bias"] = sd[f"{src}.conv.modulation.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(-1)

    out["synthesis.b4.const"] = sd["input.input"][0]
    conv("conv1", "synthesis.b4.conv1", "noises.noise_0")
    torgb("to_rgb1", "synthesis.b4.torgb")
    res, k = 8, 0
    while res <= cfg_res:
        conv(f"convs.{2 * k}", f"synthesis.b{res}.conv0", f"noises.noise_{2 * k + 1}")
        conv(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", f"noises.noise_{2 * k + 2}")
        torgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb")
        res, k = res * 2, k + 1
    return out


def read_rosinality_pt(path: Path) -> tuple[StyleGANConfig, Generator, Discriminator | None, dict[str, Any]]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise RefusedCheckpoint(f"{path}: refused by the safe loader (weights_only): {e}") from None
    if not isinstance(ckpt, dict) or "g_ema" not in ckpt:
        raise BadInput(f"{path}: not a rosinality StyleGAN2 checkpoint (no 'g_ema')")
    sd = ckpt["g_ema"]
    try:
        size = sd["input.input"].shape[-1] * 2 ** (1 + max(int(k.split(".")[1]) for k in sd if k.startswith("to_rgbs.")))
        z_dim = sd["style.1.weight"].shape[1]
        n_map = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
        ch = {4: sd["to_rgb1.conv.weight"].shape[2]}
        r, k = 8, 0
        while f"to_rgbs.{k}.conv.weight" in sd:
            ch[r] = sd[f"to_rgbs.{k}.conv.weight"].shape[2]
            r, k = r * 2, k + 1
    except (KeyError, ValueError, IndexError) as e:
        raise BadInput(f"{path}: unexpected rosinality layout ({e})") from None
    cmax = max(ch.values())
    below = [r for r in sorted(ch) if ch[r] < cmax]
    cfg = StyleGANConfig(resolution=size, z_dim=z_dim, w_dim=sd["style.1.weight"].shape[0], mapping_layers=n_map,
                         channel_base=ch[below[0]] * below[0] if below else cmax * size, channel_max=cmax)
    try:
        renamed = _ros_rename(sd, size)
    except KeyError as e:
        raise BadInput(f"{path}: rosinality checkpoint lacks {e}") from None
    latent_avg = ckpt.get("latent_avg")
    G = Generator(cfg)
    for k, v in G.state_dict().items():  # the fixed [1,3,3,1] filters are not stored by rosinality
        if k.endswith("resample_filter"):
            renamed[k] = v
    if latent_avg is None:
        renamed["mapping.w_avg"] = torch.zeros(cfg.w_dim)
        _load_strict(G, renamed, f"{path.name}: g_ema")
        with torch.no_grad():  # no stored average: estimate it (deterministically) from 10k latents
            z = torch.randn(10_000, cfg.z_dim, generator=torch.Generator().manual_seed(0))
            G.mapping.w_avg.copy_(G.mapping.map_w(z).mean(0))
    else:
        renamed["mapping.w_avg"] = latent_avg.reshape(-1)
        _load_strict(G, renamed, f"{path.name}: g_ema")
    return cfg, G, None, {"source_format": "rosinality-pt", "latent_avg_stored": latent_avg is not None}


def read_checkpoint(path: Path) -> tuple[StyleGANConfig, Generator, Discriminator | None, dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint not found: {path}")
    if zipfile.is_zipfile(path):
        return read_rosinality_pt(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] == b"\x80":
        return read_nvidia_pkl(path)
    raise BadInput(f"{path}: neither an NVIDIA .pkl nor a rosinality .pt file")

