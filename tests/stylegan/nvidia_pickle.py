"""Write network pickles with the structure of NVIDIA's stylegan2-ada-pytorch files (random weights).

A real file is ``pickle.dump(dict(G=..., D=..., G_ema=..., augment_pipe=..., training_set_kwargs=...))``
where each network is reduced by ``torch_utils.persistence`` to
``_reconstruct_persistent_obj(dict(type='class', version=6, module_src=<source>, class_name=..., state=
module.__dict__))``; tensors go through torch's own reducers (``_rebuild_parameter``,
``_rebuild_tensor_v2``, ``storage._load_from_bytes``); kwargs are ``dnnlib.util.EasyDict``. We build the
same byte structure from our modules, with stand-in ``torch_utils``/``dnnlib`` modules registered only
while pickling. ``module_src`` here is code that would create a marker file if anyone executed it.
"""

from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import StyleGANConfig


class EasyDict(dict):
    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _reconstruct_persistent_obj(meta: dict) -> Any:  # pragma: no cover - only its name is pickled
    raise RuntimeError("stand-in")


@contextmanager
def _fake_modules() -> Any:
    tu = types.ModuleType("torch_utils")
    pers = types.ModuleType("torch_utils.persistence")
    pers._reconstruct_persistent_obj = _reconstruct_persistent_obj
    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    dn = types.ModuleType("dnnlib")
    dnu = types.ModuleType("dnnlib.util")
    dnu.EasyDict = EasyDict
    EasyDict.__module__ = "dnnlib.util"
    tu.persistence, dn.util = pers, dnu
    saved = {k: sys.modules.get(k) for k in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util")}
    sys.modules.update({"torch_utils": tu, "torch_utils.persistence": pers, "dnnlib": dn, "dnnlib.util": dnu})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class Persistent:
    def __init__(self, class_name: str, state: dict, module_src: str) -> None:
        self.meta = {"type": "class", "version": 6, "module_src": module_src, "class_name": class_name, "state": state}

    def __reduce__(self) -> tuple:
        return (_reconstruct_persistent_obj, (self.meta,))


ATTRS = ("z_dim", "w_dim", "img_resolution", "num_ws", "num_layers", "w_avg_beta", "resolution", "up", "padding",
         "conv_clamp", "in_channels", "activation", "weight_gain", "bias_gain", "act_gain", "down", "group_size",
         "num_channels", "num_conv", "num_torgb", "block_resolutions")


def _persist(mod: torch.nn.Module, module_src: str, init_kwargs: dict | None = None) -> Persistent:
    state: dict[str, Any] = {
        "training": False,
        "_parameters": OrderedDict((k, v) for k, v in mod._parameters.items()),
        "_buffers": OrderedDict((k, v) for k, v in mod._buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(), "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": OrderedDict((k, _persist(v, module_src) if v is not None else None)
                                for k, v in mod._modules.items()),
        "_init_args": (),
        "_init_kwargs": init_kwargs if init_kwargs is not None else EasyDict(),
    }
    for a in ATTRS:
        if a in mod.__dict__:
            state[a] = mod.__dict__[a]
    return Persistent(type(mod).__name__, state, module_src)


def write_nvidia_pickle(path: Path, cfg: StyleGANConfig, marker: Path, seed: int = 0,
                        with_training_g: bool = True) -> Path:
    """A stylegan2-ada-pytorch style network pickle for ``cfg`` with random weights."""
    torch.manual_seed(seed)
    src = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('module_src was executed')\n"
    g_kwargs = EasyDict(z_dim=cfg.z_dim, c_dim=0, w_dim=cfg.w_dim, img_resolution=cfg.resolution, img_channels=3,
                        mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
                        synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                                                  num_fp16_res=4, conv_clamp=cfg.conv_clamp))
    G_ema = Generator(cfg).requires_grad_(False)
    with torch.no_grad():
        G_ema.mapping.w_avg.normal_()
        for m in G_ema.modules():
            if hasattr(m, "noise_strength"):
                m.noise_strength.fill_(0.05)
    D = Discriminator(cfg).requires_grad_(False)
    data = {
        "G": _persist(Generator(cfg).requires_grad_(False), src, g_kwargs) if with_training_g else None,
        "D": _persist(D, src, EasyDict(c_dim=0, img_resolution=cfg.resolution, img_channels=3)),
        "G_ema": _persist(G_ema, src, g_kwargs),
        "augment_pipe": None,
        "training_set_kwargs": EasyDict(class_name="training.dataset.ImageFolderDataset", path="ffhq256.zip",
                                        use_labels=False, max_size=70000, xflip=True, resolution=cfg.resolution),
    }
    with _fake_modules(), open(path, "wb") as f:
        pickle.dump(data, f, protocol=pickle.DEFAULT_PROTOCOL)
    return path


class _System:
    def __init__(self, cmd: str) -> None:
        self.cmd = cmd

    def __reduce__(self) -> tuple:
        import os

        return (os.system, (self.cmd,))


def write_malicious_pickle(path: Path, marker: Path, hidden: bool = True) -> Path:
    """A pickle whose loading would run ``touch marker`` (hidden inside a network-like structure)."""
    payload = _System(f"touch {marker}")
    data: Any = {"G_ema": {"_parameters": OrderedDict(weight=torch.zeros(2)), "payload": payload}} if hidden \
        else payload
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return path
