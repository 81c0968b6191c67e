"""The VQGAN+CLIP loop and the progression artwork, end to end with the shipped tiny models (CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from gallery.errors import BadInput
from generator.datasets import shapes
from generator.vqgan_clip.checkpoints import SHIPPED_VQGAN, load
from generator.vqgan_clip.clip import SHIPPED_CLIP, load_clip_file
from generator.vqgan_clip.loop import LoopParams, run_loop
from generator.vqgan_clip.prompts import parse_story


@pytest.fixture(scope="module")
def models():
    clip = load_clip_file(SHIPPED_CLIP, device="cpu")
    vqgan, _, _ = load(SHIPPED_VQGAN)
    return vqgan, clip


def _score(clip, img: np.ndarray, text: str) -> float:
    return float(clip.encode_images([img])[0] @ clip.encode_texts([text])[0])


def test_prompt_is_followed_and_runs_repeat_byte_for_byte(models) -> None:
    vqgan, clip = models
    text = "a large red circle in the centre on a yellow background"
    lp = LoopParams(phases=parse_story(text), iterations=30, snapshots=[0, 15, 30], seed=5, cutouts=8)
    a = run_loop(lp, vqgan, clip)
    b = run_loop(lp, vqgan, clip)
    assert sorted(a.snapshots) == [0, 15, 30]
    for it in a.snapshots:
        assert a.snapshots[it].tobytes() == b.snapshots[it].tobytes()
    assert a.losses == b.losses
    assert _score(clip, a.snapshots[30], text) > _score(clip, a.snapshots[0], text) + 0.05
    assert np.mean(a.losses[-5:]) < np.mean(a.losses[:5])
    c = run_loop(LoopParams(phases=parse_story(text), iterations=2, snapshots=[0], seed=6, cutouts=8), vqgan, clip)
    assert c.snapshots[0].tobytes() != a.snapshots[0].tobytes()  # another seed, another start


def test_story_negative_prompts_and_decoder_finetune(models) -> None:
    vqgan, clip = models
    before = {k: v.clone() for k, v in vqgan.state_dict().items()}
    story = "a large green square on a white background ^ a large blue star:1|green:-0.5"
    lp = LoopParams(phases=parse_story(story), iterations=12, snapshots=[0, 12], seed=1, cutouts=4,
                    story_every=5, finetune_decoder=True, decoder_lr=1e-3)
    r = run_loop(lp, vqgan, clip)
    assert r.phase_switches == [5]
    after = vqgan.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the shared model is left as it was
    plain = run_loop(LoopParams(phases=parse_story(story), iterations=12, snapshots=[0, 12], seed=1, cutouts=4,
                                story_every=5), vqgan, clip)
    assert r.snapshots[0].tobytes() == plain.snapshots[0].tobytes()
    assert r.snapshots[12].tobytes() != plain.snapshots[12].tobytes()  # the decoder moved too


def test_init_image_zoom_and_every_frame(models) -> None:
    vqgan, clip = models
    init, cap = shapes.sample(11, 64)
    lp = LoopParams(phases=parse_story(cap), iterations=6, snapshots=[0, 6], seed=2, cutouts=4,
                    init_image=init, keep_every_frame=True, zoom_every=3, zoom_scale=1.2,
                    image_prompts=[(shapes.sample(12, 64)[0], 0.5)])
    r = run_loop(lp, vqgan, clip)
    assert len(r.frames) == 7
    noise = run_loop(LoopParams(phases=parse_story(cap), iterations=1, snapshots=[0], seed=2), vqgan, clip)
    err_init = np.abs(r.snapshots[0].astype(float) - init).mean()
    err_noise = np.abs(noise.snapshots[0].astype(float) - init).mean()
    assert err_init < err_noise / 2  # starting from the image, not from noise
    with pytest.raises(BadInput, match="multiple of 4"):
        run_loop(LoopParams(phases=parse_story("x"), width=30, height=32), vqgan, clip)


def _cli(capsys, config_file: Path, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_generate_vqclip_makes_one_progression(capsys, config_file: Path, settings, tmp_path: Path) -> None:
    config_file.write_text(config_file.read_text() + "device: cpu\n")
    img_prompt = tmp_path / "prompt.png"
    cv2.imwrite(str(img_prompt), cv2.cvtColor(shapes.sample(3, 64)[0], cv2.COLOR_RGB2BGR))
    code, out, err = _cli(capsys, config_file, "generate", "vqclip", "a red circle:1|blue:-0.3", "-i", "12",
                          "--snapshots", "0,5,12,40", "--seed", "4", "--cutouts", "4", "--image-prompt",
                          f"{img_prompt}:0.5", "--video", "--json")
    assert code == 0, err
    [aid] = json.loads(out)["artworks"]
    from catalogue import open_catalogue

    with open_catalogue(settings) as cat:
        art = cat.get(aid)
        assert art.kind == "progression"
        roles = [m.role for m in art.media]
        assert roles.count("frame") == 3 and {"video", "poster", "thumbnail", "grid"} <= set(roles)
        assert [m.meta["iteration"] for m in art.media if m.role == "frame"] == [0, 5, 12]
        r = art.recipe
        assert r["phases"] == [[{"text": "a red circle", "weight": 1.0}, {"text": "blue", "weight": -0.3}]]
        assert len(r["clip"]["sha256"]) == 64 and len(r["vqgan"]["sha256"]) == 64 and r["seed"] == 4
        assert r["image_prompts"][0]["weight"] == 0.5
        assert r["timeline"]["duration"] == pytest.approx(13 / 12) and art.duration == pytest.approx(13 / 12)
        video = next(m for m in art.media if m.role == "video")
        import imageio_ffmpeg

        reader = imageio_ffmpeg.read_frames(str(cat.media_path(video)))
        meta = next(reader)
        assert meta["size"] == (256, 256) and sum(1 for _ in reader) == 13
        poster = cv2.imread(str(cat.media_path(next(m for m in art.media if m.role == "poster"))))
        assert poster.shape == (64, 64, 3)
    # the same command again gives the same artwork (idempotent add of identical media)
    code, out2, _ = _cli(capsys, config_file, "generate", "vqclip", "a red circle:1|blue:-0.3", "-i", "12",
                         "--snapshots", "0,5,12,40", "--seed", "4", "--cutouts", "4", "--image-prompt",
                         f"{img_prompt}:0.5", "--video", "--json")
    assert code == 0 and json.loads(out2)["artworks"] == [aid]


@pytest.mark.parametrize(("args", "needle"), [
    (["red:abc"], "'abc' is not a number"),
    (["red", "--size", "30"], "multiple of 4"),
    (["red", "--image-prompt", "/nonexistent.png"], "does not exist"),
    (["red", "--optimiser", "lbfgs"], "params.optimiser: Input should be 'adam', 'adamw' or 'sgd' (got 'lbfgs')"),
    (["red", "--snapshots", "0,x"], "--snapshots"),
])
def test_bad_requests_exit_2(capsys, config_file: Path, args: list[str], needle: str) -> None:
    code, _, err = _cli(capsys, config_file, "generate", "vqclip", *args, "-i", "2")
    assert code == 2 and needle in err


def test_total_variation_term_smooths_the_image(models) -> None:
    from generator.vqgan_clip.loop import total_variation

    vqgan, clip = models
    text = "a large blue square in the centre on a white background"

    def tv_of(weight: float) -> float:
        lp = LoopParams(phases=parse_story(text), iterations=25, snapshots=[25], seed=2, cutouts=4, tv_weight=weight)
        img = torch.from_numpy(run_loop(lp, vqgan, clip).snapshots[25]).permute(2, 0, 1)[None].float() / 255
        return float(total_variation(img))

    flat = torch.ones(1, 3, 8, 8)
    assert float(total_variation(flat)) == 0.0
    assert tv_of(3.0) < 0.85 * tv_of(0.0)  # 0.074 vs 0.096


@pytest.mark.parametrize("colour", ["red", "blue", "yellow"])
def test_robust_guide_paints_the_colour_named(colour: str) -> None:
    """With the shipped guide CLIP and the default TV weight, the colour word is the image's commonest
    chromatic colour after 60 iterations from noise (bench/vqclip.py follow measures 20 prompts)."""
    from generator.vqgan_clip.clip import SHIPPED_GUIDE_CLIP
    from generator.vqgan_clip.jobs import TINY_TV_WEIGHT

    vqgan, _, _ = load(SHIPPED_VQGAN)
    guide = load_clip_file(SHIPPED_GUIDE_CLIP, device="cpu")
    text = f"a large {colour} circle in the centre on a white background"
    lp = LoopParams(phases=parse_story(text), iterations=60, snapshots=[60], seed=0, cutouts=8,
                    tv_weight=TINY_TV_WEIGHT)
    img = run_loop(lp, vqgan, guide).snapshots[60]
    names = [shapes.hue_name(p) for p in img.reshape(-1, 3)]
    counts = {c: names.count(c) for c in shapes.CHROMATIC}
    assert max(counts, key=counts.get) == colour, counts


def test_tv_weight_default_follows_the_vqgan(tmp_path: Path) -> None:
    from gallery.config import load_settings
    from generator.job_params import VQClipProgression
    from generator.registry import validate as validate_params
    from generator.vqgan_clip.jobs import TINY_TV_WEIGHT, build_params

    def settings(**vq):
        return load_settings(None, environ={}, overrides={"data_dir": str(tmp_path), "device": "cpu", "vqclip": vq})

    lp, recipe = build_params(VQClipProgression(prompt="red"), settings())
    assert lp.tv_weight == recipe["tv_weight"] == TINY_TV_WEIGHT  # the shipped tiny VQGAN
    red = VQClipProgression(prompt="red")
    assert build_params(red, settings(vqgan_checkpoint="f16.ckpt"))[0].tv_weight == 0.0
    assert build_params(red, settings(tv_weight=0.5))[0].tv_weight == 0.5
    assert build_params(VQClipProgression(prompt="red", tv_weight=0.0), settings())[0].tv_weight == 0.0
    with pytest.raises(BadInput, match="tv_weight"):
        build_params(validate_params("vqclip.progression", {"prompt": "red", "tv_weight": -1}), settings())
