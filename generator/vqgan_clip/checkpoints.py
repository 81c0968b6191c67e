"""VQGAN weights: the shipped tiny model and real taming-transformers checkpoints, loaded without executing code.

A taming ``.ckpt`` is a PyTorch Lightning checkpoint: ``{"state_dict": {...}, "epoch": ..., ...}``.
It is read by the gallery's one safe reader (:mod:`gallery.safe_load`, any torch version's format):
tensors and plain containers are built, classes the file merely names (PyTorch Lightning 1.x keys its
``callbacks`` by the ``ModelCheckpoint`` class itself, as in the published ImageNet VQGAN files; a
``Namespace`` of hyper-parameters) stay inert placeholders, and code-running names are refused. The ``loss.*`` entries (LPIPS and discriminator,
training only) are set aside; the rest must match :class:`VQModel` exactly (strict loading). The
architecture is recognised from the codebook shape (``f16_1024`` or ``f16_16384``) or read from the
file itself for our own ``.pt`` files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import torch

from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.vqgan_clip.clip import WEIGHTS_DIR, _tensors, _torch_load
from generator.vqgan_clip.model import VQModel, build
from generator.vqgan_clip.presets import VQGAN_ARCHS

SHIPPED_VQGAN = WEIGHTS_DIR / "vqgan-tiny-shapes.pt"
FORMAT = "latent-gallery/vqgan-v1"
TRAINING_ONLY_PREFIXES = ("loss.",)


def save_shipped(path: Path, model: VQModel, arch: dict[str, Any], meta: dict[str, Any], half: bool = True) -> None:
    sd = {k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
          for k, v in model.state_dict().items()}
    obj = {"format": FORMAT, "arch": json.dumps(arch), "state_dict": sd, "meta": json.dumps(meta)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def infer_arch(sd: dict[str, Any], path: Path, arch_name: str | None = None) -> dict[str, Any]:
    if arch_name:
        if arch_name not in VQGAN_ARCHS:
            raise BadInput(f"unknown VQGAN architecture {arch_name!r}; known: {', '.join(VQGAN_ARCHS)}")
        return VQGAN_ARCHS[arch_name]
    emb = sd.get("quantize.embedding.weight")
    if emb is None or getattr(emb, "ndim", 0) != 2:
        raise BadInput(f"{path}: no quantize.embedding.weight codebook: not a taming VQGAN checkpoint")
    n_embed, embed_dim = (int(s) for s in emb.shape)
    for arch in VQGAN_ARCHS.values():
        if arch["n_embed"] == n_embed and arch["embed_dim"] == embed_dim:
            return arch
    known = ", ".join(f"{k}: {v['n_embed']} x {v['embed_dim']}" for k, v in VQGAN_ARCHS.items())
    raise BadInput(f"{path}: codebook of {n_embed} x {embed_dim} matches no known VQGAN architecture "
                   f"({known}); "
                   "name it with vqclip.vqgan_arch")


def read_state_dict(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None, dict[str, Any]]:
    """(model state dict, architecture if the file names one, file metadata)."""
    obj = _torch_load(Path(path))
    if not isinstance(obj, dict):
        raise BadInput(f"{path}: expected a checkpoint dict, got {type(obj).__name__}")
    if obj.get("format") == FORMAT:
        sd = _tensors(obj["state_dict"], path)
        return ({k: (v.float() if v.is_floating_point() else v) for k, v in sd.items()},
                json.loads(obj["arch"]), json.loads(obj.get("meta", "{}")))
    sd = _tensors(obj.get("state_dict", obj), path)
    meta = {k: obj[k] for k in ("epoch", "global_step", "pytorch-lightning_version")
            if k in obj and isinstance(obj[k], int | str)}
    sd = {k: v for k, v in sd.items() if not k.startswith(TRAINING_ONLY_PREFIXES)}
    return sd, None, meta


class LoadedModel(NamedTuple):
    """A VQGAN in eval mode, the sha256 of its file and its architecture (unpacks as the three)."""

    model: VQModel
    sha256: str
    arch: dict[str, Any]


def load(path: Path, device: Any = "cpu", arch_name: str | None = None) -> LoadedModel:
    """The VQGAN of a taming .ckpt or our .pt (strict); ``arch_name`` names the architecture of a file
    that does not carry its own (else it is recognised from the codebook)."""
    path = Path(path)
    if not path.is_file():
        if path == SHIPPED_VQGAN:
            raise BadInput(f"the shipped VQGAN weights {path} are missing; train them with "
                           "`gallery train vqgan --preset tiny-shapes`")
        raise BadInput(f"VQGAN checkpoint {path} does not exist (vqclip.vqgan_checkpoint in config.yaml)")
    sd, arch, _ = read_state_dict(path)
    arch = arch or infer_arch(sd, path, arch_name)
    with torch.device("meta"):
        model = build(arch)
    try:
        model.load_state_dict(sd, strict=True, assign=True)
    except RuntimeError as e:
        differs = describe_mismatch(sd, arch)
        raise BadInput(f"{path}: does not match the VQGAN architecture "
                       f"(codebook {arch['n_embed']} x {arch['embed_dim']})"
                       + (f": {differs}" if differs else f": {str(e)[:500]}")) from e
    model = model.to(device).eval()
    return LoadedModel(model, sha256_file(path), arch)


def resolve(settings: Any) -> tuple[Path, str | None]:
    """(checkpoint, architecture name) to pass to :func:`load`: ``vqclip.vqgan_checkpoint`` (relative to the data
    directory) with ``vqclip.vqgan_arch``, else the shipped tiny VQGAN (which names its own)."""
    vq = getattr(settings, "vqclip", None)
    ckpt = getattr(vq, "vqgan_checkpoint", None) if vq is not None else None
    if ckpt:
        p = Path(ckpt)
        if not p.is_absolute() and hasattr(settings, "path"):
            p = settings.path(p)
        return p, getattr(vq, "vqgan_arch", None)
    return SHIPPED_VQGAN, None


# the names the shipped tiny VQGAN answers to (``--model``, ``--resume``)
SHIPPED_NAMES = ("tiny-shapes", "vqgan-tiny-shapes", "tiny")


def describe_mismatch(sd: dict[str, Any], arch: dict[str, Any]) -> str:
    """What differs between a state dict and an architecture, in words: the codebook's size and width, the
    image channels read and written, the first layer's width; "" when none of those does."""
    dd = arch["ddconfig"]
    want = {"codebook (codes x dims)": (arch["n_embed"], arch["embed_dim"]),
            "image channels read": dd["in_channels"], "image channels written": dd["out_ch"],
            "first layer width": dd["ch"]}
    got: dict[str, Any] = {}
    if (e := sd.get("quantize.embedding.weight")) is not None and e.ndim == 2:
        got["codebook (codes x dims)"] = tuple(int(v) for v in e.shape)
    if (w := sd.get("encoder.conv_in.weight")) is not None and w.ndim == 4:
        got["image channels read"] = int(w.shape[1])
        got["first layer width"] = int(w.shape[0])
    if (w := sd.get("decoder.conv_out.weight")) is not None and w.ndim == 4:
        got["image channels written"] = int(w.shape[0])
    return "; ".join(f"{k}: {fmt(got[k])} in the file, {fmt(want[k])} in the architecture"
                     for k in want if k in got and got[k] != want[k])


def fmt(v: Any) -> str:
    return " x ".join(str(x) for x in v) if isinstance(v, tuple) else str(v)


def arch_differences(a: dict[str, Any], b: dict[str, Any], names: tuple[str, str]) -> str:
    """What differs between two VQGAN architectures (codebook, channels, layer layout), in words."""
    rows = [("codebook (codes x dims)", (a["n_embed"], a["embed_dim"]), (b["n_embed"], b["embed_dim"]))]
    da, db = a["ddconfig"], b["ddconfig"]
    rows += [(k, da.get(k), db.get(k)) for k in sorted(set(da) | set(db))]
    return "; ".join(f"{k}: {fmt(x) if not isinstance(x, list) else x} in {names[0]}, "
                     f"{fmt(y) if not isinstance(y, list) else y} in {names[1]}" for k, x, y in rows if x != y)


class ResolvedModel(NamedTuple):
    """A VQGAN named on the command line or in a job: its display name, weights file, architecture name
    (for files that do not carry their own) and catalogue row id (None for a file or the shipped model)."""

    name: str
    path: Path
    arch_name: str | None
    model_id: int | None


def resolve_model(spec: str | None, settings: Any = None, catalogue: Any = None) -> ResolvedModel:
    """``spec``: the shipped tiny VQGAN (None or one of SHIPPED_NAMES), a VQGAN registered in the catalogue
    (by `gallery import vqgan` or `gallery train vqgan --data`; the newest of that name), or a weights file
    (relative to the data directory unless it exists as given)."""
    if spec is None or spec in SHIPPED_NAMES:
        return ResolvedModel("tiny-shapes", SHIPPED_VQGAN, None, None)
    if catalogue is not None:
        from sqlalchemy import select

        from catalogue.models import Model

        with catalogue.read() as s:
            m = s.scalars(select(Model).where(Model.family == "vqgan", Model.name == spec)
                          .order_by(Model.id.desc())).first()
            if m is not None and m.path:
                arch = m.preset if m.preset in VQGAN_ARCHS else None
                return ResolvedModel(m.name, Path(m.path), arch, m.id)
    p = Path(spec).expanduser()
    if not p.exists() and not p.is_absolute() and settings is not None and hasattr(settings, "path"):
        p = settings.path(p)
    if p.is_file():
        return ResolvedModel(p.stem, p, None, None)
    raise BadInput(f"unknown VQGAN model {spec!r}: not the shipped one ({', '.join(SHIPPED_NAMES)}), not a model "
                   "registered with `gallery import vqgan` or `gallery train vqgan --data`, and not a weights file")
