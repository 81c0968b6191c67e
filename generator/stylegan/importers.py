"""Read real StyleGAN2 checkpoints (NVIDIA, rosinality) without executing anything from the file;
:func:`generator.stylegan.checkpoints.import_checkpoint` stores what they hold in our own format.

Every file is read by the gallery's one safe reader, :mod:`gallery.safe_load` (torch zip, legacy torch
before 1.6, plain pickles): it builds tensors, arrays and plain containers, and turns every class a file
merely names (an ``argparse.Namespace`` in a rosinality ``train.py`` checkpoint, optimizer states ...) into
an inert placeholder; names that mean running code (``os.system``, ``builtins.eval`` ...) are refused.
What the file holds then decides the reader, not its first bytes:

NVIDIA's ``.pkl`` files (stylegan2-ada-pytorch, stylegan3) are plain pickles of a dict ``{'G', 'D',
'G_ema', 'augment_pipe', 'training_set_kwargs'}`` whose networks are "persistent" objects: each is
pickled as a call ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta`` holds
the Python source of the module that defines the class (``module_src``), the class name and the
module's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``, ``_init_kwargs`` ...). Loading
such a file with ``pickle.load`` executes that source. We never do: that name is answered with
:func:`_reconstruct_persistent_obj` (:data:`NVIDIA_NAMES`), which returns an inert ``StoredModule``.
The stored module tree is then flattened into a state dict and loaded strictly into our Generator and
Discriminator, which use NVIDIA's parameter names; the discriminator's minibatch-std group size and
channel count are read from the stored ``mbstd`` layer.

rosinality's ``.pt`` files (a ``g_ema`` state dict, whether the small release file or a whole
``train.py`` checkpoint with ``g``, ``d``, optimizers and ``args``) are renamed to NVIDIA's names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gallery import safe_load
from gallery.errors import BadInput
from gallery.safe_load import RefusedCheckpoint
from generator.stylegan.model import Discriminator, Generator
from generator.stylegan.presets import StyleGANConfig

__all__ = ["NVIDIA_NAMES", "EasyDict", "RefusedCheckpoint", "StoredModule", "config_from_state", "flatten",
           "read_checkpoint", "read_nvidia_pkl", "read_rosinality_pt", "safe_load_pickle"]


@dataclass
class StoredModule:
    """An NVIDIA persistent object, never instantiated: its class name and stored ``__dict__``."""

    class_name: str
    state: dict[str, Any]
    source_chars: int = 0
    children: dict[str, Any] = field(default_factory=dict)


class EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict (a dict with attribute access): here, just a dict."""


def _reconstruct_persistent_obj(meta: Any) -> StoredModule:
    if not isinstance(meta, dict) or meta.get("type") != "class" or not isinstance(meta.get("state"), dict):
        raise RefusedCheckpoint("unexpected persistent object (only persistent classes with a state dict are read)")
    return StoredModule(str(meta.get("class_name")), meta["state"], len(meta.get("module_src") or ""))


# The names of NVIDIA's network pickles that the safe reader answers with our own inert builders.
NVIDIA_NAMES: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
}


def _unwrap(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def read_any(path: Path) -> safe_load.Loaded:
    """The file read by the safe reader, with NVIDIA's persistent networks as :class:`StoredModule`."""
    return safe_load.read(path, extra=NVIDIA_NAMES)


def safe_load_pickle(path: Path) -> Any:
    """What a network pickle (or any torch file) holds, read safely (see the module doc)."""
    return read_any(path).obj


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


def _mbstd(d_obj: StoredModule) -> tuple[int | None, int | None]:
    """(group size, channels) of NVIDIA's ``D.b4.mbstd`` layer, or None where the file does not say."""
    layer = _child(_child(d_obj, "b4") or d_obj, "mbstd")
    if layer is None:
        return None, None
    g, c = layer.state.get("group_size", "absent"), layer.state.get("num_channels")
    if g is None:  # NVIDIA: a group of the whole batch
        g = 1 << 30
    g = int(g) if isinstance(g, int | np.integer) and int(g) > 0 else None
    c = int(c) if isinstance(c, int | np.integer) and int(c) > 0 else None
    return g, c


def read_nvidia_pkl(path: Path, data: Any = None) -> tuple[StyleGANConfig, Generator, Discriminator | None,
                                                             dict[str, Any]]:
    data = safe_load_pickle(path) if data is None else data
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), StoredModule):
        raise BadInput(f"{path}: not a StyleGAN network pickle (no G_ema network in it)")
    g_obj = data["G_ema"]
    g_sd = flatten(g_obj)
    cfg = config_from_state(g_sd, g_obj)
    G = Generator(cfg)
    _load_strict(G, g_sd, f"{path.name}: G_ema")
    D = None
    if isinstance(data.get("D"), StoredModule):
        group, chans = _mbstd(data["D"])
        d_sd = flatten(data["D"])
        if chans is None and "b4.conv.weight" in d_sd:  # the epilogue conv sees C + mbstd channels
            chans = int(d_sd["b4.conv.weight"].shape[1]) - cfg.channels(4)
        cfg = dataclasses.replace(cfg, mbstd_group=group or cfg.mbstd_group, mbstd_channels=chans or cfg.mbstd_channels)
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


def read_rosinality_pt(path: Path, ckpt: Any = None) -> tuple[StyleGANConfig, Generator, Discriminator | None,
                                                               dict[str, Any]]:
    ckpt = safe_load_pickle(path) if ckpt is None else ckpt
    if not isinstance(ckpt, dict) or "g_ema" not in ckpt:
        raise BadInput(f"{path}: not a rosinality StyleGAN2 checkpoint (no 'g_ema')")
    ckpt = {**ckpt, "g_ema": safe_load.tensor_dict(ckpt["g_ema"], f"{path.name}: g_ema")}
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
    if latent_avg is not None and not isinstance(latent_avg, torch.Tensor):
        raise BadInput(f"{path}: its latent_avg is not a tensor")
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
    """Our config and networks from an NVIDIA network pickle or a rosinality ``.pt`` (any torch version's
    format): the file is read once, safely, and what it holds picks the reader."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"checkpoint not found: {path}")
    loaded = read_any(path)
    data = loaded.obj
    if isinstance(data, dict) and isinstance(data.get("G_ema"), StoredModule):
        cfg, G, D, meta = read_nvidia_pkl(path, data)
    elif isinstance(data, dict) and "g_ema" in data:
        cfg, G, D, meta = read_rosinality_pt(path, data)
    else:
        keys = ", ".join(sorted(str(k) for k in data)[:8]) if isinstance(data, dict) else type(data).__name__
        named = safe_load.describe(loaded.named)
        raise BadInput(f"{path}: neither an NVIDIA network pickle (G_ema) nor a rosinality checkpoint (g_ema); "
                       f"it holds {keys or 'nothing'}" + (f" and names {named}" if named else ""))
    meta["container"] = loaded.format
    if loaded.named:
        meta["placeholders"] = sorted(loaded.named)
    return cfg, G, D, meta
