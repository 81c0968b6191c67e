"""`gallery train lts`, `gallery generate soundscape`, `gallery lts anchors|live`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gallery.errors import BadInput
from gallery.state import state


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    lts_app = typer.Typer(no_args_is_help=True, help="Latent Timbre Synthesis: anchors, the live OSC mode.")
    app.add_typer(lts_app, name="lts")

    @train_app.command("lts")
    def train_lts(ctx: typer.Context,
                  preset: str = typer.Option(None, help="tiny | reference (default: lts.preset)"),
                  audio: Path | None = typer.Option(None, "--audio", help="folder of wav/flac/ogg sounds "
                                                    "(default: the corpus the project makes)"),
                  steps: int | None = typer.Option(None, min=1, help="training steps (default: the preset's)"),
                  seed: int = typer.Option(0, min=0),
                  out: Path | None = typer.Option(None, help="checkpoint path (default: "
                                                  "<data_dir>/checkpoints/lts/<preset>.pt)"),
                  threads: int = typer.Option(0, min=0, help="torch CPU threads (0: torch's default)"),
                  as_json: bool = typer.Option(False, "--json")) -> None:
        """Train the frame VAE on a folder of sounds or on the project's corpus (melodies + textures)."""
        import torch

        from gallery.device import select_device
        from gallery.logs import progress_bar
        from generator.datasets.sounds import build_corpus, list_audio
        from generator.lts.presets import get_preset
        from generator.lts.train import train

        st = state(ctx)
        s = st.settings
        p = get_preset(preset or s.lts.preset)
        if threads:
            torch.set_num_threads(threads)
        if audio is not None:
            paths = list_audio(audio)
            if not paths:
                raise BadInput(f"no wav/flac/ogg files in {audio}")
        else:
            typer.echo(f"building the sound corpus under {s.path(s.lts.corpus_dir)} (cached)", err=True)
            paths = build_corpus(s.path(s.lts.corpus_dir))
        out_path = out or s.path(f"checkpoints/lts/{p.name}.pt")
        n_steps = steps or p.train.steps
        with progress_bar(f"training lts {p.name}", n_steps, quiet=as_json) as bar:
            res = train(p, out_path, paths=paths, seed=seed, steps=n_steps, device=select_device(s.device),
                        progress=lambda i, n, last: bar(1), say=lambda m: typer.echo(m, err=True))
        st.catalogue.register_model("lts", out_path.name, res["sha256"], preset=p.name, config=p.to_dict(),
                                    path=str(out_path), provenance={k: v for k, v in res.items() if k != "files"})
        if as_json:
            typer.echo(json.dumps(res, default=str))
        else:
            ho = res.get("held_out") or {}
            typer.echo(f"saved {out_path} (sha256 {res['sha256'][:12]}); {len(res['files'])} files, "
                       f"{len(res['skipped'])} skipped; held-out MSE {ho.get('mse', float('nan')):.4f}, "
                       f"spectral convergence {ho.get('spectral_convergence', float('nan')):.3f}")

    @generate_app.command("soundscape")
    def generate_soundscape(
            ctx: typer.Context,
            a: str | None = typer.Option(None, help="first sound: audio file or anchor name (`gallery lts anchors`)"),
            b: str | None = typer.Option(None, help="second sound: audio file or anchor name"),
            curve: str = typer.Option("0:0,1:1", help="drawn weight curve t:w,... (t in 0..1; w may leave 0..1)"),
            duration: float | None = typer.Option(None, help="seconds (default lts.duration)"),
            loop: bool = typer.Option(False, "--loop", help="render a loop that joins without a click"),
            interp: str = typer.Option("lerp", help="lerp | slerp"),
            visual: int | None = typer.Option(None, "--visual", help="pair with this time-based visual artwork: "
                                              "same duration, keyframes at the same times"),
            anchors: str | None = typer.Option(None, help="with --visual: comma-separated sources, one per keyframe"),
            iterations: int | None = typer.Option(None, min=0, max=500, help="phase iterations"),
            checkpoint: Path | None = typer.Option(None, help="checkpoint (default from config)"),
            seed: int = typer.Option(0, min=0),
            save_wav: Path | None = typer.Option(None, "--save-wav", help="also copy the WAV here"),
            as_json: bool = typer.Option(False, "--json")) -> None:
        """A soundscape between two sounds along a curve, or paired to a visual artwork's timeline."""
        from gallery.results import print_artworks
        from generator.cli_run import generate

        st = state(ctx)
        params: dict = {"mode": "timeline" if visual is not None else "between"}
        if visual is not None:
            params["visual_id"] = visual
            if anchors:
                params["anchors"] = [x.strip() for x in anchors.split(",") if x.strip()]
            if loop:
                params["loop"] = True
        else:
            from generator.lts.synth import parse_curve

            params.update({"curve": parse_curve(curve).tolist(), "interp": interp, "loop": loop})
            if a:
                params["a"] = a
            if b:
                params["b"] = b
            if duration is not None:
                params["duration"] = duration
        if iterations is not None:
            params["iterations"] = iterations
        if checkpoint is not None:
            params["checkpoint"] = str(checkpoint)
        ids = generate(st, "lts.soundscape", params, seed, as_json, print_result=False)
        extra = {}
        if save_wav is not None:
            art = st.catalogue.get(ids[0])
            m = art.first_media("audio")
            save_wav.write_bytes(st.catalogue.media_path(m).read_bytes())
            extra["saved_wav"] = str(save_wav)
        print_artworks(st, ids, as_json, extra)
        if save_wav is not None and not as_json:
            typer.echo(f"  (audio also copied to {save_wav})")

    @lts_app.command("anchors")
    def list_anchors(ctx: typer.Context, checkpoint: Path | None = typer.Option(None),
                     as_json: bool = typer.Option(False, "--json")) -> None:
        """The named anchor sounds stored in the checkpoint (usable as --a/--b/--anchors)."""
        from generator.lts.checkpoints import load_configured

        loaded = load_configured(state(ctx).settings, str(checkpoint) if checkpoint else None)
        names = list(loaded.anchors.get("names", []))
        typer.echo(json.dumps({"checkpoint": str(loaded.path), "anchors": names}) if as_json else "\n".join(names))

    @lts_app.command("live")
    def live(ctx: typer.Context, host: str | None = typer.Option(None, help="listen address (default lts.osc_host)"),
             port: int | None = typer.Option(None, help="OSC port (default lts.osc_port)"),
             reply_port: int | None = typer.Option(None, help="status replies go to this port (default lts.osc_reply_port)"),
             checkpoint: Path | None = typer.Option(None)) -> None:
        """The live mode: an OSC server (load two sounds, set the curve, generate, play, stop, save)."""
        from generator.lts.live import LiveServer

        st = state(ctx)
        s = st.settings
        server = LiveServer(s, st.catalogue, host=host or s.lts.osc_host, port=port or s.lts.osc_port,
                            reply_port=reply_port or s.lts.osc_reply_port,
                            checkpoint=str(checkpoint) if checkpoint else None)
        typer.echo(f"LTS live: OSC on {server.host}:{server.port}, replies to port {server.reply_port}; "
                   f"audio output: {server.player.describe()}")
        server.serve_forever()
