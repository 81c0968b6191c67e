"""CLIP through open_clip: the shipped tiny model or a real open_clip checkpoint named in config.yaml.

``load_clip(settings, device=None) -> ClipEncoder`` is what the rest of the gallery uses (curation's
content search, the VQGAN+CLIP loop). Loading never executes code from a file: the gallery's one safe
reader (:mod:`gallery.safe_load`) or safetensors, and a clear :class:`BadInput` otherwise.

The shipped weights file (``generator/weights/vqgan_clip/clip-tiny-shapes.pt``) is a plain dict:
``format``, ``model_name``, ``model_config`` (the open_clip JSON), ``state_dict`` (float16 tensors) and
``token_rows``: only the rows of the token embedding for words seen in training are stored (the
other 49k rows of open_clip's vocabulary were never trained); the missing rows load as zeros.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gallery.errors import BadInput
from gallery.hashing import sha256_file
from generator.vqgan_clip.presets import CLIP_TINY_CONFIG, CLIP_TINY_NAME

if TYPE_CHECKING:
    import torch

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights" / "vqgan_clip"
SHIPPED_CLIP = WEIGHTS_DIR / "clip-tiny-shapes.pt"
# The tiny CLIP fine-tuned on adversarial images (preset tiny-shapes-robust): what the loop climbs by default.
# Its gradients follow what an image shows (colours, a clean background) where the retrieval CLIP's reward
# textures; it ranks captions less sharply, so searching keeps SHIPPED_CLIP.
SHIPPED_GUIDE_CLIP = WEIGHTS_DIR / "clip-tiny-shapes-robust.pt"
# A second tiny CLIP trained with another seed: the independent judge of the prompt-following bench.
SHIPPED_JUDGE_CLIP = WEIGHTS_DIR / "clip-tiny-shapes-seed1.pt"
FORMAT = "latent-gallery/open_clip-v1"
MAX_TEXT_CHARS = 1000

_LOCK = threading.Lock()
# (file, architecture, device) -> ((size, mtime) of the file when loaded, encoder)
_CACHE: dict[tuple[str, str, str], tuple[tuple[int, int], ClipEncoder]] = {}


def register_config(name: str = CLIP_TINY_NAME, config: dict[str, Any] | None = None) -> str:
    """Register a model configuration with open_clip; returns the name.

    open_clip reads configurations from ``<name>.json`` files: the file is written into a temporary
    folder that is removed as soon as open_clip has read it (the registry keeps the parsed config),
    so no process leaves a folder behind in /tmp."""
    import tempfile

    import open_clip

    cfg = CLIP_TINY_CONFIG if config is None else config
    with tempfile.TemporaryDirectory(prefix="lg-open-clip-config-") as td:
        path = Path(td) / f"{name}.json"
        path.write_text(json.dumps(cfg, indent=1))
        open_clip.add_model_config(path)
    if name not in open_clip.list_models():
        raise BadInput(f"open_clip did not accept the model configuration {name!r}")
    return name


def create_model(name: str, config: dict[str, Any] | None = None, seed: int | None = None) -> torch.nn.Module:
    """An untrained open_clip model (``pretrained=None``); our own configs are registered first."""
    import open_clip
    import torch

    if config is not None or name == CLIP_TINY_NAME:
        register_config(name, config)
    if name not in open_clip.list_models():
        raise BadInput(f"unknown open_clip model {name!r}; e.g. ViT-B-32, RN50 or {CLIP_TINY_NAME}")
    if seed is not None:
        torch.manual_seed(seed)
    # open_clip logs "no pretrained weights loaded … initialized randomly" on the root logger at
    # WARNING: true but misleading here, where the weights are loaded right after
    logging.disable(logging.WARNING)
    try:
        return open_clip.create_model(name, pretrained=None, device="cpu")
    finally:
        logging.disable(logging.NOTSET)


def pack_state_dict(model: torch.nn.Module, token_rows: torch.Tensor) -> dict[str, Any]:
    """float16 state dict with only the given rows of the token embedding (see module doc)."""
    sd = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    emb = sd.pop("token_embedding.weight")
    sd["token_embedding.rows"] = emb[token_rows]
    return {k: (v.half() if v.is_floating_point() else v) for k, v in sd.items()}


def unpack_state_dict(packed: dict[str, Any], token_rows: Any, vocab_size: int, width: int) -> dict[str, Any]:
    import torch

    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in packed.items()}
    rows = sd.pop("token_embedding.rows")
    emb = torch.zeros(vocab_size, width)
    emb[token_rows] = rows
    sd["token_embedding.weight"] = emb
    return sd


def save_shipped(path: Path, model: torch.nn.Module, name: str, config: dict[str, Any],
                 token_rows: torch.Tensor, meta: dict[str, Any]) -> None:
    import torch

    obj = {"format": FORMAT, "model_name": name, "model_config": json.dumps(config),
           "token_rows": token_rows.to(torch.int64), "state_dict": pack_state_dict(model, token_rows),
           "meta": json.dumps(meta)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _torch_load(path: Path) -> Any:
    """What a weights file holds, read by the gallery's one safe reader (:mod:`gallery.safe_load`: torch zip,
    legacy torch and plain pickles; classes it merely names become inert placeholders) or safetensors."""
    from gallery import safe_load

    if not path.is_file():
        raise BadInput(f"checkpoint file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as e:
            raise BadInput(f"{path}: not a readable safetensors file ({e})") from e
    return safe_load.read(path).obj


def _tensors(obj: Any, path: Path, where: str = "state_dict") -> dict[str, Any]:
    from gallery import safe_load

    return safe_load.tensor_dict(obj, f"{path}: {where}")


def load_weights(path: Path, model_name: str | None = None) -> tuple[torch.nn.Module, str]:
    """Build the model a weights file describes and load it strictly; returns (model, model name)."""
    obj = _torch_load(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        name = str(obj["model_name"])
        config = json.loads(obj["model_config"])
        model = create_model(name, config)
        sd = unpack_state_dict(obj["state_dict"], obj["token_rows"], config["text_cfg"]["vocab_size"],
                               config["text_cfg"]["width"])
    else:
        if not model_name:
            raise BadInput(f"{path}: a plain open_clip state dict; name its architecture in config.yaml "
                           "(vqclip.clip_model, e.g. ViT-B-32)")
        if not isinstance(obj, dict):
            raise BadInput(f"{path}: expected a state dict (a mapping of names to tensors), got {type(obj).__name__}")
        sd = _tensors(obj.get("state_dict", obj), path)
        sd = {k.removeprefix("module."): v for k, v in sd.items()}
        name = model_name
        model = create_model(name)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise BadInput(f"{path}: does not match open_clip model {name!r}: {str(e)[:400]}") from e
    return model.eval(), name


@dataclass
class ClipEncoder:
    """A CLIP image and text encoder; all outputs are float32 and L2-normalised."""

    model: Any
    tokenizer: Any
    name: str
    model_sha256: str
    dim: int
    image_size: int
    mean: Any
    std: Any
    device: Any

    # ---- numpy interface (curation, scoring)
    def encode_images(self, images: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        import torch

        if len(images) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for i in range(0, len(images), batch_size):
            chunk = [self._check_image(im, i + j) for j, im in enumerate(images[i:i + batch_size])]
            x = torch.stack([self.preprocess(im) for im in chunk]).to(self.device)
            with torch.no_grad():
                out.append(self.image_features(x, resize=False).float().cpu())
        return _normalise(torch.cat(out)).numpy().astype(np.float32)

    def encode_texts(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        import torch

        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = []
        for i in range(0, len(texts), batch_size):
            with torch.no_grad():
                out.append(self.text_features(list(texts[i:i + batch_size])).float().cpu())
        return _normalise(torch.cat(out)).numpy().astype(np.float32)

    # ---- torch interface (differentiable; used by the VQGAN+CLIP loop)
    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """RGB uint8 HxWx3 -> 3 x S x S float in [0, 1], as open_clip's eval transform does it: the shorter
        side resized to S (bicubic, antialiased, long side truncated like torchvision's ``Resize``), the
        result rounded to 8-bit levels (PIL works in uint8), then the centre S x S crop."""
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div(255.0)[None]
        h, w = x.shape[-2:]
        short, long_ = (h, w) if h <= w else (w, h)
        new_long = max(self.image_size, int(self.image_size * long_ / short))
        nh, nw = (self.image_size, new_long) if h <= w else (new_long, self.image_size)
        if (nh, nw) != (h, w):
            x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
            x = x.clamp(0, 1).mul(255.0).round().div(255.0)
        top, left = int(round((nh - self.image_size) / 2.0)), int(round((nw - self.image_size) / 2.0))
        return x[0, :, top:top + self.image_size, left:left + self.image_size].clamp(0, 1)

    def image_features(self, x: torch.Tensor, resize: bool = True) -> torch.Tensor:
        """Unnormalised image embeddings of B x 3 x H x W images in [0, 1] (gradients flow)."""
        import torch.nn.functional as F

        if resize and tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        x = (x - self.mean) / self.std
        return self.model.encode_image(x)

    def text_features(self, texts: list[str]) -> torch.Tensor:
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise BadInput(f"text {i} is a {type(t).__name__}, not a string")
            if len(t) > MAX_TEXT_CHARS:
                raise BadInput(f"text {i} is {len(t)} characters long; at most {MAX_TEXT_CHARS}")
        tokens = self.tokenizer(texts).to(self.device)
        return self.model.encode_text(tokens)

    @staticmethod
    def _check_image(im: Any, i: int) -> np.ndarray:
        if not isinstance(im, np.ndarray) or im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            desc = f"{im.dtype} {im.shape}" if isinstance(im, np.ndarray) else type(im).__name__
            raise BadInput(f"image {i}: expected an RGB uint8 array of shape HxWx3, got {desc}")
        if min(im.shape[:2]) < 1:
            raise BadInput(f"image {i}: empty image of shape {im.shape}")
        return im


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


def clip_source(settings: Any, guide: bool = False) -> tuple[Path, str | None]:
    """(weights file, open_clip model name or None) that the settings choose: for searching and embedding,
    or with ``guide`` for steering the VQGAN+CLIP loop (``vqclip.guide_checkpoint``, else the same file as
    searching when one is configured, else the shipped robust tiny CLIP)."""
    vq = getattr(settings, "vqclip", None)
    ckpt = getattr(vq, "clip_checkpoint", None) if vq is not None else None
    model = getattr(vq, "clip_model", None) if vq is not None else None
    if guide and vq is not None and getattr(vq, "guide_checkpoint", None):
        ckpt, model = vq.guide_checkpoint, getattr(vq, "guide_model", None) or model
    if ckpt:
        path = Path(ckpt)
        if not path.is_absolute() and hasattr(settings, "path"):
            path = settings.path(path)
        return path, model
    return (SHIPPED_GUIDE_CLIP if guide else SHIPPED_CLIP), None


def encoder_from_model(model: Any, name: str, sha: str, device: Any) -> ClipEncoder:
    import open_clip
    import torch

    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    vis = model.visual
    size = vis.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    mean = torch.tensor(getattr(vis, "image_mean", None) or open_clip.OPENAI_DATASET_MEAN, device=device)
    std = torch.tensor(getattr(vis, "image_std", None) or open_clip.OPENAI_DATASET_STD, device=device)
    with torch.no_grad():
        dim = int(model.encode_text(open_clip.get_tokenizer(name)(["a"]).to(device)).shape[-1])
    return ClipEncoder(model=model, tokenizer=open_clip.get_tokenizer(name), name=name, model_sha256=sha,
                       dim=dim, image_size=size, mean=mean.view(1, 3, 1, 1), std=std.view(1, 3, 1, 1),
                       device=device)


def load_clip_file(path: Path, model_name: str | None = None, device: Any = None) -> ClipEncoder:
    """A ClipEncoder for one weights file (cached per process, by file, architecture and device).

    The cache also keys on the file's size and modification time, so a file replaced while the process
    runs (retrained weights, a new checkpoint at the configured path) is loaded again, not served stale."""
    import torch

    path = Path(path)
    if not path.is_file():
        if path in (SHIPPED_CLIP, SHIPPED_JUDGE_CLIP, SHIPPED_GUIDE_CLIP):
            preset = "tiny-shapes-robust" if path == SHIPPED_GUIDE_CLIP else "tiny-shapes"
            raise BadInput(f"the shipped CLIP weights {path} are missing; train them with "
                           f"`gallery train clip --preset {preset}` (see the README)")
        raise BadInput(f"CLIP checkpoint {path} does not exist (vqclip.clip_checkpoint or vqclip.guide_checkpoint "
                       "in config.yaml)")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    st = path.stat()
    key, stamp = (str(path.resolve()), model_name or "", str(dev)), (st.st_size, st.st_mtime_ns)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        model, name = load_weights(path, model_name)
        enc = encoder_from_model(model, name, sha256_file(path), dev)
        _CACHE[key] = (stamp, enc)  # a replaced file's model is let go
        return enc


def load_clip(settings: Any, device: Any = None, guide: bool = False) -> ClipEncoder:
    """The CLIP encoder the settings name (``vqclip.clip_checkpoint``), else the shipped tiny CLIP; with
    ``guide``, the one that steers the VQGAN+CLIP loop (see :func:`clip_source`).

    ``device`` defaults to the settings' device choice. Cached per process.
    """
    path, model_name = clip_source(settings, guide=guide)
    if device is None:
        from gallery.device import select_device

        device = select_device(getattr(settings, "device", "auto"))
    return load_clip_file(path, model_name, device)
