"""Commands of the VQGAN+CLIP family: generate vqclip, train clip|vqgan, import clip|vqgan."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gallery.state import state


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    @generate_app.command("vqclip")
    def vqclip(ctx: typer.Context,
               prompt: str = typer.Argument(..., help='"text:weight|text:-weight", story phases split by ^'),
               iterations: int = typer.Option(None, "--iterations", "-i", min=1, max=100_000,
                                              help="optimisation steps (default: vqclip.iterations)"),
               size: int = typer.Option(None, min=16, max=2048, help="square side in pixels (default: vqclip.size)"),
               width: int = typer.Option(None, min=16, max=2048), height: int = typer.Option(None, min=16, max=2048),
               seed: int = typer.Option(0, min=0),
               cutouts: int = typer.Option(None, min=1, max=256), cut_pow: float = typer.Option(None, min=0.01),
               min_cut: float = typer.Option(None, min=0.01, max=1.0,
                                             help="smallest cutout side, as a fraction of the image side"),
               optimiser: str = typer.Option(None, help="adam | adamw | sgd"),
               lr: float = typer.Option(None, min=1e-6),
               tv_weight: float = typer.Option(None, min=0.0, max=100.0,
                                               help="weight of the image's total variation (smoothness)"),
               story_every: int = typer.Option(0, min=0, help="story mode: next ^ phase every N iterations"),
               image_prompt: list[str] = typer.Option(None, "--image-prompt", help="PATH or PATH:WEIGHT (repeatable)"),
               init_image: Path = typer.Option(None, help="start from this image instead of noise"),
               snapshots: str = typer.Option(None, help="iterations kept as frames, e.g. 0,100,250,500"),
               video: bool = typer.Option(False, "--video", help="a video of every iteration (as --video-stride 1)"),
               video_stride: int = typer.Option(None, "--video-stride", min=1, max=100_000,
                                                help="the video shows every Nth iteration (default: vqclip.video_stride)"),
               zoom: bool = typer.Option(False, "--zoom", help="zoom in every --zoom-every iterations (zoom video)"),
               zoom_every: int = typer.Option(10, min=1), zoom_scale: float = typer.Option(1.04, min=1.0, max=2.0),
               finetune_decoder: bool = typer.Option(False, "--finetune-decoder",
                                                     help="fine-tune the decoder's weights as well"),
               decoder_lr: float = typer.Option(1e-4, min=0.0),
               model: str = typer.Option(None, "--model", help="VQGAN: a registered name (`gallery import vqgan`, "
                                         "`gallery train vqgan --data`) or weights file (default: vqclip.vqgan_checkpoint)"),
               as_json: bool = typer.Option(False, "--json")) -> None:
        """Text-steered progression: VQGAN latent optimised against CLIP (frames, video, final image)."""
        from gallery.errors import BadInput
        from generator.cli_run import generate

        snaps = None
        if snapshots:
            try:
                snaps = [int(s) for s in snapshots.split(",") if s.strip()]
            except ValueError as e:
                raise BadInput(f"--snapshots {snapshots!r}: give iteration numbers separated by commas") from e
        params = {"prompt": prompt, "iterations": iterations, "size": size, "width": width, "height": height,
                  "cutouts": cutouts, "cut_pow": cut_pow, "min_cut": min_cut, "optimiser": optimiser, "lr": lr,
                  "tv_weight": tv_weight,
                  "story_every": story_every, "image_prompts": list(image_prompt or []),
                  "init_image": str(init_image) if init_image else None, "snapshots": snaps,
                  "video_stride": 1 if video and video_stride is None else video_stride,
                  "zoom": zoom, "zoom_every": zoom_every if zoom else None, "zoom_scale": zoom_scale if zoom else None,
                  "finetune_decoder": finetune_decoder, "decoder_lr": decoder_lr if finetune_decoder else None,
                  "model": model}
        params = {k: v for k, v in params.items() if v is not None}
        generate(state(ctx), "vqclip.progression", params, seed, as_json)

    @train_app.command("clip")
    def train_clip(ctx: typer.Context,
                   preset: str = typer.Option("tiny-shapes", help="tiny-shapes | tiny-shapes-hard | tiny-shapes-joint | "
                                               "tiny-shapes-robust | smoke"),
                   out: Path = typer.Option(None, help="weights file (default: the shipped one)"),
                   seed: int = typer.Option(None, min=0), steps: int = typer.Option(None, min=1),
                   init: Path = typer.Option(None, help="start from these weights (default: the preset's)"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
        """Train the tiny CLIP on captioned shapes (open_clip contrastive loss)."""
        from gallery.progress import cli_progress
        from generator.vqgan_clip.train_clip import train

        st = state(ctx)
        st.settings  # noqa: B018 - sets up logging
        with cli_progress(quiet=as_json) as progress:
            meta = train(preset, out=out, seed=seed, steps=steps, init=init, progress=progress)
        if as_json:
            typer.echo(json.dumps(meta))
        else:
            r = meta["retrieval"]
            typer.echo(f"saved {meta['path']} ({meta['bytes'] / 1e6:.1f} MB): held-out image->text "
                       f"top-1 {r['top1']:.2f}, top-5 {r['top5']:.2f} among {r['n']} captions; shape "
                       f"discrimination {meta['shapes']['accuracy']:.2f} (chance 0.17)")

    @train_app.command("vqgan")
    def train_vqgan(ctx: typer.Context, preset: str = typer.Option("tiny-shapes", help="tiny-shapes | tiny-shapes-colour | smoke"),
                    out: Path = typer.Option(None, help="weights file (default: the shipped one)"),
                    steps: int = typer.Option(None, min=1),
                    adversarial_weight: float = typer.Option(None, min=0.0, help="0 turns the GAN term off"),
                    resume: str = typer.Option(None, help="go on training these weights (a second stage); with --data: "
                                               "the VQGAN to fine-tune (a registered name or a weights file; "
                                               "default: the shipped tiny one)"),
                    lr: float = typer.Option(None, min=1e-7), perceptual_weight: float = typer.Option(None, min=0.0),
                    data: str = typer.Option(None, "--data", help="fine-tune on this image dataset "
                                             "(`gallery dataset ls`) instead of the shapes"),
                    minutes: float = typer.Option(None, min=0.01, help="with --data: stop and export after this long"),
                    name: str = typer.Option(None, help="with --data: the model's name (default vqgan-DATA); "
                                             "also its run folder, so the same name goes on with a killed run"),
                    export: Path = typer.Option(None, help="with --data: also copy the weights here"),
                    batch: int = typer.Option(8, min=1, max=1024, help="with --data: images per step"),
                    crop: int = typer.Option(None, min=8, help="with --data: training crop side "
                                             "(default: the model's training side, at most the dataset's)"),
                    no_flip: bool = typer.Option(False, "--no-flip", help="with --data: no random left-right flips"),
                    seed: int = typer.Option(0, min=0, help="with --data: seed of the batches, crops and flips"),
                    checkpoint_every: int = typer.Option(100, min=1, help="with --data: steps between checkpoints"),
                    as_json: bool = typer.Option(False, "--json")) -> None:
        """Train the tiny VQGAN on shapes, or with --data fine-tune a VQGAN on an image dataset
        (reconstruction + perceptual + codebook, optional adversarial)."""
        from gallery.progress import cli_progress

        st = state(ctx)
        st.settings  # noqa: B018 - sets up logging
        if data is not None:
            from gallery.errors import BadInput

            if out is not None or preset != "tiny-shapes":
                raise BadInput("--out and --preset are for training on the shapes; with --data the model is "
                               "registered under --name (and copied to --export PATH)")
            _finetune(st, as_json, data=data, name=name or f"vqgan-{data}", start=resume, steps=steps,
                      minutes=minutes, batch=batch, lr=lr, perceptual_weight=perceptual_weight,
                      adversarial_weight=adversarial_weight, crop=crop, flip=not no_flip, seed=seed,
                      checkpoint_every=checkpoint_every, export=export)
            return
        from generator.vqgan_clip.train_vqgan import train

        with cli_progress(quiet=as_json) as progress:
            meta = train(preset, out=out, steps=steps, adversarial_weight=adversarial_weight,
                         resume=Path(resume) if resume else None, lr=lr,
                         perceptual_weight=perceptual_weight, progress=progress)
        if as_json:
            typer.echo(json.dumps(meta))
        else:
            e = meta["eval"]
            typer.echo(f"saved {meta['path']} ({meta['bytes'] / 1e6:.1f} MB): held-out PSNR {e['psnr_db']} dB, "
                       f"{100 * e['codes_used']:.0f}% of codes used, object colours kept "
                       f"{e['object_colour_ok']:.2f} of {e['object_colour_n']}")

    @import_app.command("vqgan")
    def import_vqgan(ctx: typer.Context, path: Path = typer.Argument(..., help="taming .ckpt or .pt"),
                     arch: str = typer.Option(None, help="f16_1024 | f16_16384 | tiny (default: recognise)"),
                     as_json: bool = typer.Option(False, "--json")) -> None:
        """Check a VQGAN checkpoint loads strictly (never executing it) and register it in the catalogue."""
        from generator.vqgan_clip.checkpoints import load

        st = state(ctx)
        _model, sha, a = load(path, arch_name=arch)
        mid = st.catalogue.register_model("vqgan", path.stem, sha, preset=arch,
                                          config={"n_embed": a["n_embed"], "embed_dim": a["embed_dim"],
                                                  "ddconfig": a["ddconfig"]},
                                          path=str(path.resolve()), provenance={"imported_from": str(path)})
        out = {"model": mid, "sha256": sha, "n_embed": a["n_embed"], "embed_dim": a["embed_dim"]}
        typer.echo(json.dumps(out) if as_json else
                   f"registered VQGAN {path.name} as model {mid} (codebook {a['n_embed']} x {a['embed_dim']}); "
                   "set vqclip.vqgan_checkpoint in config.yaml to use it")

    @import_app.command("clip")
    def import_clip(ctx: typer.Context, path: Path = typer.Argument(..., help="open_clip state dict or safetensors"),
                    model: str = typer.Option(None, help="open_clip architecture, e.g. ViT-B-32"),
                    as_json: bool = typer.Option(False, "--json")) -> None:
        """Check an open_clip checkpoint loads strictly (never executing it) and register it."""
        from generator.vqgan_clip.clip import load_clip_file

        st = state(ctx)
        enc = load_clip_file(path, model, device="cpu")
        mid = st.catalogue.register_model("clip", enc.name, enc.model_sha256, preset=model,
                                          config={"dim": enc.dim, "image_size": enc.image_size},
                                          path=str(path.resolve()), provenance={"imported_from": str(path)})
        typer.echo(json.dumps({"model": mid, "sha256": enc.model_sha256, "dim": enc.dim}) if as_json else
                   f"registered CLIP {enc.name} ({enc.dim}-d) as model {mid}; set vqclip.clip_checkpoint "
                   "and vqclip.clip_model in config.yaml to use it")


def _finetune(st: object, as_json: bool, **kw: object) -> None:
    """`gallery train vqgan --data NAME`: generator/vqgan_clip/finetune.py."""
    from gallery.progress import cli_progress
    from generator.vqgan_clip.finetune import FinetuneConfig, finetune

    kw = {k: v for k, v in kw.items() if v is not None}
    if kw.get("steps") is None and kw.get("minutes") is not None:
        kw["steps"] = 10_000_000  # --minutes alone: train until the time is up
    cfg = FinetuneConfig(**kw)  # type: ignore[arg-type]
    with cli_progress(quiet=as_json) as progress:
        meta = finetune(st.settings, st.catalogue, cfg, progress=progress)  # type: ignore[attr-defined]
    if as_json:
        typer.echo(json.dumps(meta))
        return
    b, a = meta["before"], meta["after"]
    typer.echo(f"registered VQGAN {meta['name']!r} as model {meta['model']} ({meta['path']}): {meta['steps']} steps "
               f"on dataset {meta['dataset']['name']!r} from {meta['start_model']['name']!r}; reconstruction on "
               f"{meta['eval_n']} {meta['eval_on'].replace('_', ' ')} images: PSNR {b['psnr_db']:.2f} -> "
               f"{a['psnr_db']:.2f} dB, codes used {a['codes_used']:.2f}, perplexity {a['perplexity']:.1f}; "
               f"samples in {meta['run']}/samples; use it with `gallery generate vqclip ... --model {meta['name']}`")
