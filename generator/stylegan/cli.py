"""`gallery train stylegan`, `gallery import stylegan`, `gallery generate walk|mix|project|uncanny|bend`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from gallery.errors import BadInput
from gallery.state import state


def parse_bend(text: str) -> dict[str, Any]:
    """``layer:op[:amount[:fraction[:seed]]]`` (e.g. ``b16.conv1:rotate:45:0.5``) or a JSON object."""
    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise BadInput(f"--bend: not valid JSON: {e}") from None
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 5:
        raise BadInput(f"--bend {text!r}: expected layer:op[:amount[:fraction[:seed]]]")
    spec: dict[str, Any] = {"layer": parts[0], "op": parts[1]}
    try:
        if len(parts) > 2 and parts[2] != "":
            spec["amount"] = float(parts[2])
        if len(parts) > 3:
            spec["fraction"] = float(parts[3])
        if len(parts) > 4:
            spec["seed"] = int(parts[4])
    except ValueError:
        raise BadInput(f"--bend {text!r}: amount and fraction must be numbers, seed an integer") from None
    return spec


def _run(ctx: typer.Context, kind: str, params: dict[str, Any], seed: int, as_json: bool) -> list[int]:
    from generator.cli_run import generate

    return generate(state(ctx), kind, params, seed, as_json)


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    model_opt = typer.Option(None, "--model", help="tiny-faces64, a registered model name, or a weights path")
    psi_opt = typer.Option(None, "--psi", min=0.0, max=2.0, help="truncation psi (default: config)")
    size_opt = typer.Option(None, "--size", min=16, max=4096, help="output pixels a side (default: config)")
    seed_opt = typer.Option(0, "--seed", min=0)
    json_opt = typer.Option(False, "--json")
    bend_opt = typer.Option(None, "--bend", help="layer:op[:amount[:fraction[:seed]]], repeatable")

    @train_app.command("stylegan")
    def train_stylegan(ctx: typer.Context, preset: str = typer.Option("tiny-faces64", "--preset"),
                       data: str = typer.Option(None, "--data", help="train on this registered image dataset "
                                                "(`gallery dataset ls`) instead of the procedural faces"),
                       resume: str = typer.Option(None, "--resume", help="--data: start from this model (shipped, "
                                                  "registered or a weights path) of the dataset's resolution"),
                       cont: bool = typer.Option(False, "--continue", help="continue the run from its checkpoint"),
                       freeze_d: int = typer.Option(0, "--freeze-d", min=0, help="--data: freeze the first K "
                                                    "discriminator blocks (from the top resolution)"),
                       ada: bool = typer.Option(True, "--ada/--no-ada", help="--data: adaptive augmentation"),
                       ada_target: float = typer.Option(0.6, "--ada-target", min=0.0, max=1.0),
                       ada_kimg: float = typer.Option(20.0, "--ada-kimg", min=0.01,
                                                      help="thousands of images for p to go from 0 to 1"),
                       kid_every: float = typer.Option(300.0, "--kid-every", min=0.0,
                                                       help="--data: seconds between KID measurements (0: none)"),
                       kid_images: int = typer.Option(500, "--kid-images", min=2, max=50_000),
                       grid_every: float = typer.Option(300.0, "--grid-every", min=1.0,
                                                        help="seconds between sample grids"),
                       name: str = typer.Option(None, "--name", help="--data: the model's catalogue name "
                                                "(default: the dataset's)"),
                       minutes: float = typer.Option(None, "--minutes", min=0.01),
                       steps: int = typer.Option(None, "--steps", min=1, help="stop at this many steps in total"),
                       out: Path = typer.Option(None, "--out", help="run folder (default: <train_dir>/<preset>, "
                                                "with --data <train_dir>/<name>)"),
                       export: Path = typer.Option(None, "--export", help="also write the weights file here"),
                       seed: int = seed_opt, threads: int = typer.Option(1, "--threads", min=1, max=256),
                       as_json: bool = json_opt) -> None:
        """Train StyleGAN2 on the procedural faces, or with --data on your own images (ADA, transfer, KID)."""
        import torch

        from gallery.device import select_device
        from gallery.logs import progress_bar
        from generator.stylegan.presets import PRESETS
        from generator.stylegan.train import export_weights, train

        if minutes is None and steps is None:
            raise BadInput("give --minutes or --steps")
        st = state(ctx)
        torch.set_num_threads(threads)  # 1 is fastest on a shared CPU (no spinning OpenMP barriers)
        if data is not None:
            from generator.stylegan.cli_data import train_stylegan_data
            from generator.stylegan.train_data import DataOptions

            opts = DataOptions(steps=steps, minutes=minutes, seed=seed, ada=ada, ada_target=ada_target,
                               ada_kimg=ada_kimg, freeze_d=freeze_d, kid_every_s=kid_every, kid_images=kid_images,
                               grid_every_s=grid_every)
            with progress_bar("training stylegan", steps, quiet=as_json) as advance:
                res = train_stylegan_data(st, data, resume=resume, cont=cont, out=out, export=export, name=name,
                                          opts=opts, device=select_device(st.settings.device), progress=advance)
            typer.echo(json.dumps(res) if as_json else "\n".join(f"{k}: {v}" for k, v in res.items()))
            return
        if resume is not None or freeze_d:
            raise BadInput("--resume MODEL and --freeze-d train on a dataset: give --data NAME (to continue a run on "
                           "the procedural faces use --continue)")
        if preset not in PRESETS:
            raise BadInput(f"unknown StyleGAN preset {preset!r}; known: {', '.join(PRESETS)}")
        run_dir = out or st.settings.path(st.settings.stylegan.train_dir) / preset
        with progress_bar("training stylegan", steps, quiet=as_json) as advance:
            try:
                r = train(preset, run_dir, minutes=minutes, steps=steps, resume=cont, seed=seed,
                          device=select_device(st.settings.device), grid_every_s=grid_every, progress=advance)
            except (FileNotFoundError, ValueError) as e:
                raise BadInput(str(e)) from None
        weights = export_weights(r.checkpoint, run_dir / "weights.pt")
        if export is not None:
            export_weights(r.checkpoint, export)
        res = {"steps": r.step, "images_seen": r.images_seen, "seconds": round(r.seconds, 1),
               "checkpoint": str(r.checkpoint), "weights": str(export or weights), "grid": str(r.last_grid),
               "losses": r.losses}
        typer.echo(json.dumps(res) if as_json else "\n".join(f"{k}: {v}" for k, v in res.items()))

    @import_app.command("stylegan")
    def import_stylegan(ctx: typer.Context, path: Path = typer.Argument(..., help="NVIDIA .pkl or rosinality .pt"),
                        name: str = typer.Option(None, "--name", help="catalogue name (default: file stem)"),
                        as_json: bool = json_opt) -> None:
        """Register a real checkpoint: its tensors are read without executing any code from the file."""
        from generator.stylegan.checkpoints import import_checkpoint

        st = state(ctx)
        info = import_checkpoint(path, st.settings, st.catalogue, name=name)
        typer.echo(json.dumps(info) if as_json else
                   f"registered {info['name']} (model {info['model_id']}, {info['format']}, "
                   f"{info['resolution']} px) -> {info['path']}"
                   + (f"\ndiscriminator: {info['discriminator']}" if info.get("discriminator") else ""))

    @generate_app.command("walk")
    def gen_walk(ctx: typer.Context, mode: str = typer.Option("endless", help="endless | chain | loop"),
                 space: str = typer.Option("z", help="z | w"),
                 seconds: float = typer.Option(None, min=0.05), fps: int = typer.Option(None, min=1, max=120),
                 seconds_per_keyframe: float = typer.Option(None, "--seconds-per-keyframe", min=0.05),
                 keyframes: str = typer.Option(None, help="chain: comma-separated seeds"),
                 loop: bool = typer.Option(False, "--loop", help="chain: close back to the first keyframe"),
                 start_segment: int = typer.Option(None, "--start-segment", min=0, help="endless: first segment"),
                 constant_speed: bool = typer.Option(False, "--constant-speed",
                                                     help="equal image-space change per frame"),
                 bend: list[str] = bend_opt, model: str = model_opt, psi: float = psi_opt, size: int = size_opt,
                 seed: int = seed_opt, as_json: bool = json_opt) -> None:
        """A latent walk video: endless C1 segments, slerp keyframe chains, or a great-circle loop."""
        _run(ctx, "stylegan.walk", {
            "mode": mode, "space": space, "seconds": seconds, "fps": fps,
            "seconds_per_keyframe": seconds_per_keyframe, "keyframes": keyframes, "loop": loop or None,
            "start_segment": start_segment, "constant_speed": constant_speed,
            "bends": [parse_bend(b) for b in bend] if bend else None, "model": model, "psi": psi, "size": size,
        }, seed, as_json)

    @generate_app.command("mix")
    def gen_mix(ctx: typer.Context, rows: str = typer.Option(None, help="comma-separated seeds (rows)"),
                cols: str = typer.Option(None, help="comma-separated seeds whose styles are copied (columns)"),
                layers: str = typer.Option("coarse", help="coarse | middle | fine | START:STOP"),
                model: str = model_opt, psi: float = psi_opt, size: int = size_opt, seed: int = seed_opt,
                as_json: bool = json_opt) -> None:
        """Style mixing grid: rows take the columns' styles on coarse, middle or fine layers."""
        lay: Any = layers
        if ":" in layers:
            try:
                lay = [int(x) for x in layers.split(":")]
            except ValueError:
                raise BadInput(f"--layers {layers!r}: expected coarse, middle, fine or START:STOP") from None
        _run(ctx, "stylegan.mix", {"row_seeds": rows, "col_seeds": cols, "layers": lay, "model": model,
                                   "psi": psi, "size": size}, seed, as_json)

    @generate_app.command("bend")
    def gen_bend(ctx: typer.Context, bend: list[str] = typer.Option(..., "--bend",
                                                                     help="layer:op[:amount[:fraction[:seed]]]"),
                 seeds: str = typer.Option(None, help="comma-separated seeds (default: --seed)"),
                 model: str = model_opt, psi: float = psi_opt, size: int = size_opt, seed: int = seed_opt,
                 as_json: bool = json_opt) -> None:
        """Network bending: named transforms on chosen channels of chosen layers."""
        _run(ctx, "stylegan.bend", {"bends": [parse_bend(b) for b in bend], "seeds": seeds, "model": model,
                                    "psi": psi, "size": size}, seed, as_json)

    @generate_app.command("project")
    def gen_project(ctx: typer.Context, image: Path = typer.Argument(..., help="PNG/JPEG to reproduce"),
                    steps: int = typer.Option(300, min=1, max=100_000),
                    wplus: bool = typer.Option(True, "--wplus/--w", help="refine per-layer W+ after W"),
                    model: str = model_opt, size: int = size_opt, seed: int = seed_opt,
                    as_json: bool = json_opt) -> None:
        """Find the w (and W+) that best reproduces an image."""
        _run(ctx, "stylegan.project", {"image": str(image), "steps": steps, "wplus": wplus, "model": model,
                                       "size": size}, seed, as_json)

    @generate_app.command("uncanny")
    def gen_uncanny(ctx: typer.Context, steps: int = typer.Option(200, min=1, max=100_000),
                    snapshot_every: int = typer.Option(25, "--snapshot-every", min=1),
                    lr: float = typer.Option(0.002, min=1e-6, max=1.0), faces: int = typer.Option(8, min=1, max=64),
                    model: str = model_opt, psi: float = psi_opt, size: int = size_opt, seed: int = seed_opt,
                    as_json: bool = json_opt) -> None:
        """The amplified uncanny: fine-tune G against its frozen discriminator with the objective inverted."""
        _run(ctx, "stylegan.uncanny", {"steps": steps, "snapshot_every": snapshot_every, "lr": lr, "faces": faces,
                                       "model": model, "psi": psi, "size": size}, seed, as_json)
