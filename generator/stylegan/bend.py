"""Network bending (after Broad, Leymarie and Grierson, 2021): deterministic transforms inserted into
chosen channels of chosen layers of the synthesis network, through forward hooks.

A bend is a dict: ``{"layer": "b16.conv1", "op": "rotate", "amount": 45, "fraction": 0.5, "seed": 0}``
(or ``"channels": [0, 3, 7]`` instead of fraction+seed). Ops and the meaning of ``amount``:

=========  ===========================================================  =======
op         effect on the selected feature maps                         amount
=========  ===========================================================  =======
translate  shift right/down by amount x map size (zeros enter)           0.25
scale      zoom about the centre by amount (>1 enlarges)                 1.5
rotate     rotate about the centre by amount degrees                     45
erode      minimum filter of odd size amount                             3
dilate     maximum filter of odd size amount                             3
multiply   multiply by amount                                            2.0
threshold  keep values above amount, zero the rest                       0.0
flip       mirror: amount 0 left-right, 1 up-down                        0
invert     per map, max + min - x                                        (none)
ablate     set to zero                                                   (none)
=========  ===========================================================  =======
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

from gallery.errors import BadInput

DEFAULT_AMOUNT: dict[str, float | None] = {
    "translate": 0.25, "scale": 1.5, "rotate": 45.0, "erode": 3, "dilate": 3, "multiply": 2.0,
    "threshold": 0.0, "flip": 0, "invert": None, "ablate": None,
}
OPS = tuple(DEFAULT_AMOUNT)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.dtype).expand(x.shape[0], 2, 3), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def transform(x: torch.Tensor, op: str, amount: float | None) -> torch.Tensor:
    """Apply one named op to feature maps x [N, C, H, W]."""
    if op == "translate":
        return _affine(x, torch.tensor([[1.0, 0.0, -2 * amount], [0.0, 1.0, -2 * amount]]))
    if op == "scale":
        return _affine(x, torch.tensor([[1.0 / amount, 0.0, 0.0], [0.0, 1.0 / amount, 0.0]]))
    if op == "rotate":
        a = math.radians(amount)
        return _affine(x, torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]))
    if op in ("erode", "dilate"):
        k = int(amount)
        y = F.max_pool2d(x if op == "dilate" else -x, k, stride=1, padding=k // 2)
        return y if op == "dilate" else -y
    if op == "multiply":
        return x * amount
    if op == "threshold":
        return torch.where(x > amount, x, torch.zeros_like(x))
    if op == "flip":
        return x.flip(3 if int(amount) == 0 else 2)
    if op == "invert":
        hi = x.amax(dim=(2, 3), keepdim=True)
        lo = x.amin(dim=(2, 3), keepdim=True)
        return hi + lo - x
    if op == "ablate":
        return torch.zeros_like(x)
    raise BadInput(f"unknown bend op {op!r}; known: {', '.join(OPS)}")


def normalise(spec: dict[str, Any], layer_names: list[str], channels_of: Callable[[str], int]) -> dict[str, Any]:
    """Validate a bend and fill in defaults; the result (JSON) goes into recipes."""
    if not isinstance(spec, dict):
        raise BadInput(f"a bend must be a mapping like {{'layer': 'b8.conv1', 'op': 'rotate'}}, got {spec!r}")
    unknown = set(spec) - {"layer", "op", "amount", "channels", "fraction", "seed"}
    if unknown:
        raise BadInput(f"bend: unknown keys {sorted(unknown)}")
    layer, op = spec.get("layer"), spec.get("op")
    if layer not in layer_names:
        raise BadInput(f"bend: unknown layer {layer!r}; this model's layers: {', '.join(layer_names)}")
    if op not in OPS:
        raise BadInput(f"bend: unknown op {op!r}; known: {', '.join(OPS)}")
    amount = spec.get("amount", DEFAULT_AMOUNT[op])
    if amount is not None:
        try:
            amount = float(amount)
        except (TypeError, ValueError):
            raise BadInput(f"bend {op}: amount must be a number, got {amount!r}") from None
    if op == "scale" and amount <= 0:
        raise BadInput(f"bend scale: amount must be > 0, got {amount}")
    if op in ("erode", "dilate") and (amount < 1 or int(amount) != amount or int(amount) % 2 == 0):
        raise BadInput(f"bend {op}: amount must be an odd whole number >= 1, got {amount}")
    n = channels_of(layer)
    if "channels" in spec:
        chans = spec["channels"]
        if not isinstance(chans, list) or not chans or not all(isinstance(c, int) and 0 <= c < n for c in chans):
            raise BadInput(f"bend: channels must be a non-empty list of integers in 0..{n - 1} for {layer}")
        chans = sorted(set(chans))
    else:
        frac = float(spec.get("fraction", 1.0))
        if not 0 < frac <= 1:
            raise BadInput(f"bend: fraction must be in (0, 1], got {frac}")
        seed = int(spec.get("seed", 0))
        k = max(1, round(frac * n))
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
        chans = sorted(perm[:k].tolist())
    return {"layer": layer, "op": op, "amount": amount, "channels": chans}


def normalise_all(G: Any, specs: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    names = G.synthesis.layer_names()

    def channels_of(layer: str) -> int:
        return _module(G, layer).weight.shape[0]

    return [normalise(s, names, channels_of) for s in (specs or [])]


def _module(G: Any, layer: str) -> torch.nn.Module:
    m = G.synthesis
    for part in layer.split("."):  # StyleGAN2: "b64.conv1"; StyleGAN3: "L7_148_512"
        m = getattr(m, part)
    return m


@contextmanager
def bent(G: Any, specs: list[dict[str, Any]] | None) -> Iterator[list[dict[str, Any]]]:
    """Within the block, G renders with the bends applied; yields the normalised specs."""
    norm = normalise_all(G, specs)
    handles = []
    for s in norm:
        idx = torch.tensor(s["channels"])

        def hook(module: torch.nn.Module, inputs: Any, out: torch.Tensor, s: dict = s,
                 idx: torch.Tensor = idx) -> torch.Tensor:
            out = out.clone()
            i = idx.to(out.device)
            out[:, i] = transform(out[:, i], s["op"], s["amount"])
            return out

        handles.append(_module(G, s["layer"]).register_forward_hook(hook))
    try:
        yield norm
    finally:
        for h in handles:
            h.remove()
