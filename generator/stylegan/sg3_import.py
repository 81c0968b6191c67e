"""StyleGAN3 networks from NVIDIA pickles (stylegan3 ``training-runs`` snapshots and the published files),
read by the safe reader of :mod:`generator.stylegan.importers` (nothing from the file runs);
:mod:`generator.stylegan.checkpoints` stores them in our weights format (marked ``arch: stylegan3``) and
loads them back through :func:`sg3_from_weights` as :class:`generator.stylegan.sg3_model.SG3Generator`.

The generator's geometry comes from its stored ``_init_kwargs`` (what the reference's ``train.py`` passed)
and is checked against every stored tensor's name and shape and every layer's stored padding and
resampling factors; its filters, Fourier frequencies and phases are the stored buffers. A StyleGAN3
snapshot's discriminator is StyleGAN2's (``networks_stylegan2.Discriminator``): when the pickle has one it
loads into :class:`generator.stylegan.model.Discriminator` (the uncanny fine-tune needs it; NVIDIA's
published pickles and training snapshots carry it); a file without one (an export that kept only G_ema)
imports with the discriminator reported absent.
"""

from __future__ import annotations

import mmap
from pathlib import Path
from typing import Any

import torch

from gallery.errors import BadInput
from generator.stylegan import importers
from generator.stylegan.model import Discriminator
from generator.stylegan.presets import StyleGANConfig
from generator.stylegan.sg3_model import SG3Config, SG3Generator

ARCH = "stylegan3"
_CFG_KEYS = {"channel_base", "channel_max", "conv_kernel", "use_radial_filters", "conv_clamp", "num_layers",
             "num_critical", "first_cutoff", "first_stopband", "last_stopband_rel", "margin_size", "output_scale",
             "filter_size", "lrelu_upsampling", "magnitude_ema_beta"}


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


def _kwargs(obj: Any) -> dict[str, Any]:
    kw = obj.state.get("_init_kwargs") if isinstance(obj, importers.StoredModule) else None
    return _plain(dict(kw)) if isinstance(kw, dict) else {}


def is_sg3_state(sd: dict[str, torch.Tensor]) -> bool:
    return "synthesis.input.freqs" in sd and any(k.startswith("synthesis.L0_") for k in sd)


def sg3_config(g_obj: Any, sd: dict[str, torch.Tensor]) -> SG3Config:
    """The configuration of a stored StyleGAN3 generator (its init kwargs, else what the tensors say)."""
    kw = _kwargs(g_obj)
    if int(kw.get("c_dim") or 0) > 0 or any(k.startswith("mapping.embed") for k in sd):
        raise BadInput("conditional (class-label) StyleGAN3 networks are not supported")
    try:
        z_dim = sd["mapping.fc0.weight"].shape[1]
        w_dim = sd["mapping.w_avg"].shape[0]
        last = max((k for k in sd if k.startswith("synthesis.L") and k.endswith(".weight")),
                   key=lambda k: int(k.split(".")[1].split("_")[0][1:]))
    except (KeyError, ValueError) as e:
        raise BadInput(f"not a StyleGAN3 generator ({e})") from None
    layers = 0
    while f"mapping.fc{layers}.weight" in sd:
        layers += 1
    n_layers = int(last.split(".")[1].split("_")[0][1:])
    res = int(last.split(".")[1].split("_")[1])
    syn = kw.get("synthesis_kwargs") if isinstance(kw.get("synthesis_kwargs"), dict) else kw
    values: dict[str, Any] = {k: syn[k] for k in _CFG_KEYS if k in syn}
    syn_obj = (g_obj.state.get("_modules") or {}).get("synthesis") if g_obj is not None else None
    if isinstance(syn_obj, importers.StoredModule):  # attributes the network stored itself win
        for k in ("num_critical", "margin_size", "output_scale"):
            if isinstance(syn_obj.state.get(k), int | float):
                values[k] = syn_obj.state[k]
    mk = kw.get("mapping_kwargs") if isinstance(kw.get("mapping_kwargs"), dict) else {}
    if "w_avg_beta" in mk:
        values["w_avg_beta"] = float(mk["w_avg_beta"])
    if "lr_multiplier" in mk:
        values["mapping_lr"] = float(mk["lr_multiplier"])
    w0 = next(v for k, v in sd.items() if k.startswith("synthesis.L0_") and k.endswith(".weight")
              and not k.endswith("affine.weight"))
    values.setdefault("conv_kernel", int(w0.shape[-1]))
    try:
        return SG3Config(resolution=int(kw.get("img_resolution") or res), z_dim=z_dim, w_dim=w_dim,
                         mapping_layers=layers, img_channels=sd[last].shape[0], num_layers=n_layers,
                         **{k: v for k, v in values.items() if v is not None or k == "conv_clamp"})
    except (TypeError, ValueError) as e:
        raise BadInput(f"unusual StyleGAN3 configuration: {e}") from None


def _check_geometry(G: SG3Generator, g_obj: Any) -> None:
    """Every layer's stored padding and resampling factors must be what our geometry computes."""
    syn = (g_obj.state.get("_modules") or {}).get("synthesis") if g_obj is not None else None
    if not isinstance(syn, importers.StoredModule):
        return
    for name in G.synthesis.names:
        stored = (syn.state.get("_modules") or {}).get(name)
        if not isinstance(stored, importers.StoredModule):
            raise BadInput(f"StyleGAN3 layer {name} is missing from the pickle")
        ours = getattr(G.synthesis, name)
        for attr, mine in (("padding", list(ours.padding)), ("up_factor", ours.up_factor),
                           ("down_factor", ours.down_factor)):
            theirs = stored.state.get(attr)
            if theirs is not None and (list(theirs) if attr == "padding" else theirs) != mine:
                raise BadInput(f"StyleGAN3 layer {name}: stored {attr} {theirs} differs from the computed {mine} "
                               "(an unusual configuration this reader does not reproduce)")


def d_config(d_obj: Any, sd: dict[str, torch.Tensor]) -> StyleGANConfig:
    """The StyleGAN2 discriminator's configuration (resolution, channels, clamp, minibatch-std group)."""
    kw = _kwargs(d_obj)
    res = [int(k.split(".")[0][1:]) for k in sd if k.startswith("b") and k.endswith(".fromrgb.weight")]
    if not res:
        raise BadInput("the pickle's D is not a StyleGAN2 residual discriminator (no b*.fromrgb)")
    ep = kw.get("epilogue_kwargs") if isinstance(kw.get("epilogue_kwargs"), dict) else {}
    try:
        return StyleGANConfig(resolution=int(kw.get("img_resolution") or max(res)),
                              channel_base=int(kw.get("channel_base", 32768)),
                              channel_max=int(kw.get("channel_max", 512)),
                              img_channels=int(kw.get("img_channels", 3)), conv_clamp=kw.get("conv_clamp"),
                              mbstd_group=int(ep.get("mbstd_group_size", 4)),
                              mbstd_channels=int(ep.get("mbstd_num_channels", 1)))
    except (TypeError, ValueError) as e:
        raise BadInput(f"unusual discriminator configuration: {e}") from None


def read_sg3(path: Path, data: Any = None) -> tuple[SG3Config, SG3Generator, Discriminator | None, dict[str, Any]]:
    """Read a StyleGAN3 pickle safely; ``data`` is its already-unpickled content when the caller has it."""
    data = importers.safe_load_pickle(path) if data is None else data
    if not isinstance(data, dict) or not isinstance(data.get("G_ema"), importers.StoredModule):
        raise BadInput(f"{path}: not a StyleGAN network pickle (no G_ema network in it)")
    g_obj = data["G_ema"]
    sd = importers.flatten(g_obj)
    if not is_sg3_state(sd):
        raise BadInput(f"{path}: G_ema is not a StyleGAN3 generator (no synthesis.input / L0 layer)")
    cfg = sg3_config(g_obj, sd)
    G = SG3Generator(cfg, design=False)
    _check_geometry(G, g_obj)
    importers._load_strict(G, sd, f"{path.name}: G_ema (StyleGAN3-{cfg.variant.upper()})")
    D, d_note = None, "absent: the pickle holds no discriminator (the uncanny fine-tune needs one)"
    if isinstance(data.get("D"), importers.StoredModule):
        d_sd = importers.flatten(data["D"])
        D = Discriminator(d_config(data["D"], d_sd))
        importers._load_strict(D, d_sd, f"{path.name}: D")
        d_note = "present (StyleGAN2 residual discriminator)"
    arch = f"stylegan3-{cfg.variant}"
    meta = {"source_format": f"nvidia-pkl ({arch})", "architecture": arch, "class": g_obj.class_name,
            "discriminator": d_note}
    return cfg, G.eval(), D, meta


def is_sg3_pickle(path: Path) -> Any:
    """The unpickled content when ``path`` is an NVIDIA pickle holding a StyleGAN3 G_ema, else None."""
    path = Path(path)
    try:  # every NVIDIA StyleGAN3 pickle embeds its classes' source: without it, no second full read
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            if mm[:1] != b"\x80" or mm.find(b"SynthesisInput") < 0:
                return None
    except (OSError, ValueError):
        return None
    try:
        data = importers.safe_load_pickle(path)
    except BadInput:  # refused or not a network pickle: the general reader gives its own message
        return None
    g = data.get("G_ema") if isinstance(data, dict) else None
    if isinstance(g, importers.StoredModule) and "input" in (
            ((g.state.get("_modules") or {}).get("synthesis") or importers.StoredModule("", {})).state.get("_modules")
            or {}):
        return data
    return None


def sg3_from_weights(obj: dict[str, Any], path: Path, device: torch.device | str
                     ) -> tuple[SG3Config, SG3Generator, Discriminator | None, dict[str, Any]]:
    """Our weights file (already read safely) of a StyleGAN3 network -> config, G, D and the stored facts."""
    try:
        cfg = SG3Config.from_dict(obj["config"])
        G = SG3Generator(cfg, design=False)
        G.load_state_dict(obj["G_ema"], strict=True)
        D = None
        if obj.get("D") is not None:
            D = Discriminator(StyleGANConfig.from_dict(obj["D_config"]))
            D.load_state_dict(obj["D"], strict=True)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise BadInput(f"{path}: StyleGAN3 weights do not match their config: {e}") from None
    G.eval().requires_grad_(False).to(device)
    if D is not None:
        D.eval().requires_grad_(False).to(device)
    meta = {k: v for k, v in obj.items() if k not in ("G_ema", "D", "config", "format", "D_config", "arch")}
    return cfg, G, D, meta
