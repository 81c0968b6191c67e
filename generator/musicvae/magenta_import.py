"""Import Magenta's published Music-VAE checkpoints (TF1 ``.index`` + ``.data`` files, or magenta-js's
``weights_manifest.json`` + binary shards) into :class:`~generator.musicvae.magenta.MagentaMusicVAE`.

The config name (``cat-mel_2bar_big`` / ``hierdec-mel_16bar``) fixes the structure (bars, layers,
hierarchy); the sizes are read from the checkpoint and every variable's shape is checked against
them, so a checkpoint of the same structure at other sizes loads too (the test fixtures are small).
TF's LSTMBlockCell keeps one kernel [input + hidden, 4 * hidden] with the gates in the order
(i, j, f, o) and adds ``forget_bias`` = 1.0 at run time; torch wants (i, f, g, o): the blocks are
reordered and the 1.0 is folded into the bias.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from gallery.errors import BadInput
from generator.musicvae.magenta import DEPTH, MagentaConfig, MagentaMusicVAE, published_config
from generator.musicvae.tfcheckpoint import CheckpointError, TFCheckpoint

FORGET_BIAS = 1.0
CELL = "multi_rnn_cell/cell_{k}/lstm_cell/"
ENC = "encoder/cell_{i}/bidirectional_rnn/{d}/multi_rnn_cell/cell_0/lstm_cell/"


class ManifestCheckpoint:
    """magenta-js / tfjs weights: ``weights_manifest.json`` (groups of weights over shard files)."""

    QUANT: ClassVar[dict[str, type]] = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}
    DTYPES: ClassVar[dict[str, type]] = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}

    def __init__(self, folder: Path) -> None:
        self.prefix = Path(folder)
        path = self.prefix / "weights_manifest.json"
        try:
            groups = json.loads(path.read_text())
            self.index: dict[str, tuple[dict, int, int]] = {}
            self._groups: list[list[Path]] = []
            for g, group in enumerate(groups):
                self._groups.append([self.prefix / p for p in group["paths"]])
                offset = 0
                for w in group["weights"]:
                    q = w.get("quantization")
                    dt = np.dtype(self.QUANT[q["dtype"]] if q else self.DTYPES[w["dtype"]])
                    size = int(np.prod(w["shape"], dtype=np.int64)) * dt.itemsize
                    self.index[w["name"]] = (w, g, offset)
                    offset += size
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: not a readable weights manifest ({type(e).__name__}: {e})") from None
        self._blobs: dict[int, bytes] = {}
        self.entries = self.index

    def _blob(self, g: int, name: str) -> bytes:
        if g not in self._blobs:
            parts = []
            for p in self._groups[g]:
                if not p.is_file():
                    raise CheckpointError(f"{p}: the weights shard holding {name!r} is missing")
                parts.append(p.read_bytes())
            self._blobs[g] = b"".join(parts)
        return self._blobs[g]

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._entry(name)[0]["shape"])

    def _entry(self, name: str) -> tuple[dict, int, int]:
        try:
            return self.index[name]
        except KeyError:
            raise CheckpointError(f"{self.prefix}: no variable {name!r} in this weights manifest") from None

    def tensor(self, name: str) -> np.ndarray:
        w, g, offset = self._entry(name)
        q = w.get("quantization")
        dt = np.dtype(self.QUANT[q["dtype"]] if q else self.DTYPES[w["dtype"]])
        count = int(np.prod(w["shape"], dtype=np.int64))
        blob = self._blob(g, name)
        if offset + count * dt.itemsize > len(blob):
            raise CheckpointError(f"{self.prefix}: variable {name!r} runs past the end of its shards (truncated?)")
        a = np.frombuffer(blob, dtype=dt.newbyteorder("<"), count=count, offset=offset).astype(dt)
        if q and q["dtype"] != "float16":
            a = a.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
        return a.reshape(w["shape"]).astype(np.float32 if q else dt)


def open_weights(path: str | Path) -> TFCheckpoint | ManifestCheckpoint:
    p = Path(path)
    if p.is_dir() and (p / "weights_manifest.json").is_file():
        return ManifestCheckpoint(p)
    if p.name == "weights_manifest.json":
        return ManifestCheckpoint(p.parent)
    return TFCheckpoint(p)


class _Reader:
    """Tensors by name with their expected shapes checked; errors name the variable."""

    def __init__(self, ck: TFCheckpoint | ManifestCheckpoint) -> None:
        self.ck = ck
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self.ck.entries

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.ck.shape(name))

    def get(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        found = self.shape(name)
        if found != tuple(shape):
            raise CheckpointError(f"{self.ck.prefix}: variable {name!r} has shape {list(found)}, "
                                  f"expected {list(shape)} for this config")
        a = self.ck.tensor(name)
        if not np.issubdtype(a.dtype, np.floating):
            raise CheckpointError(f"{self.ck.prefix}: variable {name!r} is {a.dtype}, not a float tensor")
        self.used.add(name)
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def lstm_from_tf(kernel: torch.Tensor, bias: torch.Tensor, input_size: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """TF kernel [in+h, 4h] and bias [4h] with gates (i, j, f, o) and forget_bias added at run time
    -> torch (w_ih [4h, in], w_hh [4h, h], b [4h]) with gates (i, f, g, o) and the 1.0 folded in."""
    h = bias.shape[0] // 4
    order = torch.cat([torch.arange(h) + h * blk for blk in (0, 2, 1, 3)])
    w = kernel.t()[order]
    b = bias[order].clone()
    b[h:2 * h] += FORGET_BIAS
    return w[:, :input_size].contiguous(), w[:, input_size:].contiguous(), b


def _lstm(r: _Reader, prefix: str, input_size: int, hidden: int) -> tuple[torch.Tensor, ...]:
    k = r.get(prefix + "kernel", (input_size + hidden, 4 * hidden))
    b = r.get(prefix + "bias", (4 * hidden,))
    return lstm_from_tf(k, b, input_size)


def _dense(r: _Reader, prefix: str, lin: torch.nn.Linear) -> None:
    lin.weight.data.copy_(r.get(prefix + "kernel", (lin.in_features, lin.out_features)).t())
    lin.bias.data.copy_(r.get(prefix + "bias", (lin.out_features,)))


def _stack(r: _Reader, prefix: str, stack, input_size: int) -> None:
    for k, h in enumerate(stack.sizes):
        w_ih, w_hh, b = _lstm(r, prefix + CELL.format(k=k), input_size, h)
        stack.w_ih[k].data.copy_(w_ih)
        stack.w_hh[k].data.copy_(w_hh)
        stack.b[k].data.copy_(b)
        input_size = h


def _need(r: _Reader, name: str) -> tuple[int, ...]:
    if not r.has(name):
        raise CheckpointError(f"{r.ck.prefix}: no variable {name!r}: not a Music-VAE checkpoint of this config")
    return r.shape(name)


def infer_config(r: _Reader, base: MagentaConfig) -> MagentaConfig:
    """The config's structure with the sizes found in the checkpoint."""
    hier = r.has("core_decoder/decoder/" + CELL.format(k=0) + "bias")
    if hier != base.hierarchical:
        kind, other = ("a hierarchical decoder (core_decoder/...)", "hierdec-mel_16bar") if hier else \
            ("a flat decoder (no core_decoder/...)", "cat-mel_2bar_big")
        raise CheckpointError(f"{r.ck.prefix}: this checkpoint has {kind}: not {base.name}; try --config {other}")
    enc = _need(r, ENC.format(i=0, d="fw") + "bias")[0] // 4
    latent = _need(r, "encoder/mu/bias")[0]
    dec_prefix = "core_decoder/decoder/" if base.hierarchical else "decoder/"
    dec = _need(r, dec_prefix + CELL.format(k=0) + "bias")[0] // 4
    extra = ENC.format(i=len(base.enc_sizes), d="fw") + "bias"
    extra_dec = dec_prefix + CELL.format(k=len(base.dec_sizes)) + "bias"
    for name in (extra, extra_dec):
        if r.has(name):
            raise CheckpointError(f"{r.ck.prefix}: variable {name!r} is one layer more than {base.name} has "
                                  "(wrong --config?)")
    return MagentaConfig(base.name, base.bars, latent, (enc,) * len(base.enc_sizes), (dec,) * len(base.dec_sizes),
                         base.hierarchical)


def convert(ck: TFCheckpoint | ManifestCheckpoint, config: str) -> tuple[MagentaMusicVAE, dict]:
    """Build the torch model from a checkpoint; returns (model, report)."""
    r = _Reader(ck)
    cfg = infer_config(r, published_config(config))
    model = MagentaMusicVAE(cfg)
    h = cfg.enc_sizes[0]
    for i in range(len(cfg.enc_sizes)):
        in_size = DEPTH if i == 0 else 2 * h
        for d, suffix in (("fw", ""), ("bw", "_reverse")):
            w_ih, w_hh, b = _lstm(r, ENC.format(i=i, d=d), in_size, h)
            enc = model.encoder
            getattr(enc, f"weight_ih_l{i}{suffix}").data.copy_(w_ih)
            getattr(enc, f"weight_hh_l{i}{suffix}").data.copy_(w_hh)
            getattr(enc, f"bias_ih_l{i}{suffix}").data.copy_(b)
            getattr(enc, f"bias_hh_l{i}{suffix}").data.zero_()
    _dense(r, "encoder/mu/", model.mu)
    _dense(r, "encoder/sigma/", model.sigma)
    if cfg.hierarchical:
        _dense(r, "decoder/hierarchical_level_0/initial_state/", model.conductor_init.dense)
        _stack(r, "decoder/hierarchical_level_0/", model.conductor, 1)
        prefix, z = "core_decoder/decoder/", cfg.dec_sizes[-1]
    else:
        prefix, z = "decoder/", cfg.latent
    _dense(r, prefix + "z_to_initial_state/", model.decoder.init.dense)
    _stack(r, prefix, model.decoder.rnn, DEPTH + z)
    _dense(r, prefix + "output_projection/", model.decoder.out)
    model.eval()
    published = published_config(config)
    ignored = sorted(set(ck.entries) - r.used)
    fmt = "magenta-js weights manifest" if isinstance(ck, ManifestCheckpoint) else "TF1 checkpoint"
    return model, {"format": fmt, "config": cfg.to_dict(), "published_sizes": cfg == published,
                   "variables_read": len(r.used), "variables_ignored": len(ignored),
                   "ignored_examples": ignored[:5]}


def load_magenta(path: str | Path, config: str) -> tuple[MagentaMusicVAE, dict]:
    """A Magenta checkpoint (TF prefix / .index / directory, or a magenta-js folder) -> torch model.

    Raises BadInput (exit 2) naming the file and variable for anything wrong with it."""
    try:
        return convert(open_weights(path), config)
    except CheckpointError as e:
        raise BadInput(str(e)) from None


def import_checkpoint(path: str | Path, config: str, settings, catalogue, name: str | None = None,
                      attribute_windows: int = 0, windows: np.ndarray | None = None,
                      midi: str | None = None) -> dict:
    """`gallery import musicvae`: convert, save as this project's checkpoint, register it.

    The published checkpoints carry no attribute vectors; ``attribute_windows`` > 0 computes them
    (density, pitch) from that many melody windows (``windows``, else the configured corpus and
    ``midi``), which takes a while at the published sizes on a CPU."""
    import time

    from generator.musicvae.checkpoints import save_checkpoint
    from generator.musicvae.train import attribute_vectors, training_data

    published_config(config)  # unknown names fail before any file is read
    name = name or f"{config}-{Path(path).resolve().name}"
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise BadInput(f"--name {name!r}: letters, digits, '-', '_' and '.' only")
    t0 = time.perf_counter()
    model, report = load_magenta(path, config)
    seconds = time.perf_counter() - t0
    attrs: dict[str, torch.Tensor] = {}
    if attribute_windows > 0:
        if windows is None:
            data, _ = training_data(settings, model.cfg.bars, midi=midi)
            windows = data["train"]
        if len(windows):
            attrs = attribute_vectors(model, windows, limit=attribute_windows)
    target = settings.path(f"models/musicvae/{name}.pt")
    info = {"source": str(Path(path).resolve()), "format": report["format"], "imported": report}
    sha = save_checkpoint(target, model, config, attrs, info)
    model_id = catalogue.register_model("musicvae", name, sha, preset=config, config=model.cfg.to_dict(),
                                        path=str(target), provenance={"imported_from": info["source"],
                                                                      "config": config})
    key = "checkpoint_2bar" if model.cfg.bars == 2 else "checkpoint_16bar"
    return {"name": name, "model_id": model_id, "path": str(target), "sha256": sha, "config": config,
            "bars": model.cfg.bars, "format": report["format"], "sizes": report["config"], "published_sizes": report["published_sizes"],
            "attributes": sorted(attrs), "import_seconds": round(seconds, 3), "config_key": f"musicvae.{key}"}
