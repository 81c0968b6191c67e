"""Which VQGAN+CLIP progressions can be varied, read from their recipes (torch-free; see generator.registry)."""

from __future__ import annotations

from typing import Any

from generator.registry import CannotVary, pick


def variation_plan(r: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Around the image it ended on (``final_codes``), or for older recipes around its seeded start."""
    if r.get("image_prompts"):
        raise CannotVary("its image prompts are files outside the catalogue")
    if not r.get("final_codes") and r.get("init_image"):
        raise CannotVary("it started from an init image outside the catalogue and its recipe (older than "
                         "final_codes) holds no final latent")
    params = pick(r, "prompt", "iterations", "width", "height", "cutouts", "cut_pow", "min_cut", "optimiser", "lr",
                  "tv_weight", "story_every", "snapshots", "video", "zoom", "zoom_every", "zoom_scale",
                  "finetune_decoder", "decoder_lr")
    for key, flag in (("zoom_every", "zoom"), ("zoom_scale", "zoom"), ("decoder_lr", "finetune_decoder")):
        if not params.get(flag):
            params.pop(key, None)  # recorded with every recipe, read only with its flag on
    vq = r.get("vqgan") if isinstance(r.get("vqgan"), dict) else {}
    if vq.get("model"):  # made with `--model NAME`: its codes index that model's codebook
        params["model"] = vq["model"]
    if r.get("final_codes"):
        params["init_codes"] = r["final_codes"]  # around the image it ended on; else its seeded start
    if isinstance(r.get("timeline"), dict) and r["timeline"].get("fps"):
        params["fps"] = r["timeline"]["fps"]
    return "vqclip.progression", params
