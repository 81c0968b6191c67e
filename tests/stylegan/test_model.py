"""The StyleGAN2 networks: NVIDIA names and shapes, the maths of the modulated convolution, mixing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from generator.stylegan.model import (
    Discriminator,
    Generator,
    SynthesisLayer,
    fir,
    setup_filter,
    upsample2d,
)
from generator.stylegan.presets import PRESETS, preset

from .conftest import SMALL


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_ffhq256_names_and_shapes_match_nvidia():
    """Spot checks against the tensors of stylegan2-ada-pytorch's FFHQ-256 (paper256) pickle."""
    cfg = preset("ffhq256-paper256")
    with torch.device("meta"):
        G, D = Generator(cfg), Discriminator(cfg)
    g, d = _shapes(G), _shapes(D)
    assert g["mapping.fc0.weight"] == (512, 512) and g["mapping.fc7.bias"] == (512,)
    assert g["mapping.w_avg"] == (512,)
    assert g["synthesis.b4.const"] == (512, 4, 4)
    assert g["synthesis.b4.conv1.affine.weight"] == (512, 512)
    assert g["synthesis.b8.conv0.weight"] == (512, 512, 3, 3)
    assert g["synthesis.b64.conv0.weight"] == (256, 512, 3, 3)
    assert g["synthesis.b256.conv1.noise_const"] == (256, 256)
    assert g["synthesis.b256.torgb.weight"] == (3, 64, 1, 1)
    assert g["synthesis.b128.resample_filter"] == (4, 4)
    assert "synthesis.b4.conv0.weight" not in g and G.num_ws == 14
    assert d["b256.fromrgb.weight"] == (64, 3, 1, 1) and "b128.fromrgb.weight" not in d
    assert d["b256.skip.weight"] == (128, 64, 1, 1) and "b256.skip.bias" not in d
    assert d["b4.conv.weight"] == (512, 513, 3, 3)
    assert d["b4.fc.weight"] == (512, 512 * 16) and d["b4.out.weight"] == (1, 512)
    # Tensor counts of NVIDIA's modules: mapping 8x(w, b) + w_avg = 17; b4 = const + filter + conv1 (7) +
    # torgb (4) = 13; b8..b256 = 6 x (filter + conv0 + conv1 + torgb = 19). D: 6 blocks x 9 + fromrgb 3 + b4 7.
    assert len(g) == 17 + 13 + 6 * 19 and len(d) == 6 * 9 + 3 + 7


def test_presets_are_consistent():
    for name, cfg in PRESETS.items():
        assert cfg.num_ws == 2 * (cfg.resolution.bit_length() - 1) - 2, name
    assert preset("ffhq1024").num_ws == 18
    with torch.device("meta"):
        assert sum(p.numel() for p in Generator(preset("ffhq256")).parameters()) > 29e6


def test_modulated_conv_equals_grouped_reference():
    """Our "scale input, shared conv, scale output" path equals the per-sample weight formula."""
    torch.manual_seed(0)
    layer = SynthesisLayer(6, 5, w_dim=8, resolution=8).eval()
    with torch.no_grad():
        layer.bias.normal_()
    x, w = torch.randn(3, 6, 8, 8), torch.randn(3, 8)
    out = layer(x, w, noise_mode="none")
    styles = layer.affine(w)
    ref = []
    for i in range(3):
        wi = layer.weight * styles[i][None, :, None, None]
        wi = wi / (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        y = F.conv2d(x[i:i + 1], wi, padding=1) + layer.bias[None, :, None, None]
        ref.append(F.leaky_relu(y, 0.2) * 2 ** 0.5)
    assert torch.allclose(out, torch.cat(ref), atol=1e-5)


def test_fir_filters_preserve_constants():
    f = setup_filter()
    x = torch.full((1, 2, 8, 8), 3.0)
    up = upsample2d(x, f)
    assert up.shape == (1, 2, 16, 16) and torch.allclose(up[:, :, 2:-2, 2:-2], torch.full_like(up[:, :, 2:-2, 2:-2], 3))
    down = fir(x, f, (1, 1, 1, 1), stride=2)
    assert down.shape == (1, 2, 4, 4) and torch.allclose(down[:, :, 1:-1, 1:-1], torch.full((1, 2, 2, 2), 3.0))


def test_forward_truncation_and_style_mixing():
    torch.manual_seed(1)
    G, D = Generator(SMALL).eval(), Discriminator(SMALL)
    z = torch.randn(4, SMALL.z_dim)
    img = G(z)
    assert img.shape == (4, 3, 32, 32) and D(img).shape == (4, 1)
    ws = G.mapping(z, truncation_psi=0.0)
    assert torch.allclose(ws, G.mapping.w_avg.expand_as(ws))
    # Mixing: the fine layers of another latent change the picture but not its coarse layers' effect.
    a, b = G.mapping(z[:1]), G.mapping(z[1:2])
    mixed = a.clone()
    mixed[:, 4:] = b[:, 4:]
    with torch.no_grad():
        ia, im = G.synthesis(a), G.synthesis(mixed)
    assert not torch.allclose(ia, im)
    # Const noise makes renders repeatable; random noise does not (noise strength set non-zero).
    with torch.no_grad():
        for mod in G.modules():
            if hasattr(mod, "noise_strength"):
                mod.noise_strength.fill_(0.5)
        assert torch.equal(G.synthesis(a), G.synthesis(a))
        assert not torch.equal(G.synthesis(a, noise_mode="random"), G.synthesis(a, noise_mode="random"))
