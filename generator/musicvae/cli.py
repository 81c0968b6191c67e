"""`gallery train musicvae`, `gallery import musicvae` and `gallery generate melody sample|interpolate|encode|attribute`."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import typer

from gallery.errors import BadInput
from gallery.state import state


def _parse_attributes(values: list[str]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, amount = v.partition("=")
        try:
            out[name.strip()] = float(amount)
        except ValueError:
            raise BadInput(f"--attribute {v!r}: write NAME=AMOUNT, e.g. density=1.5") from None
        if not sep or not name.strip():
            raise BadInput(f"--attribute {v!r}: write NAME=AMOUNT, e.g. density=1.5")
    return out


def _run(ctx: typer.Context, kind: str, params: dict, seed: int, as_json: bool) -> None:
    from generator.cli_run import generate

    st = state(ctx)
    generate(st, kind, params, seed, as_json, workdir=st.settings.path("work/musicvae"))


def register(app: typer.Typer, generate_app: typer.Typer, train_app: typer.Typer, import_app: typer.Typer) -> None:
    melody_app = typer.Typer(no_args_is_help=True, help="Music-VAE melodies: sample, interpolate, encode, attribute.")
    generate_app.add_typer(melody_app, name="melody")

    @train_app.command("musicvae")
    def train(ctx: typer.Context,
              preset: str = typer.Option("tiny-2bar", help="tiny-2bar | tiny-16bar | mel-2bar | mel-16bar"),
              midi: Path | None = typer.Option(None, "--midi", help="also train on the MIDI files in this folder"),
              no_corpus: bool = typer.Option(False, "--no-corpus", help="train on --midi only"),
              sources: str | None = typer.Option(None, help="corpus sources, comma-separated, e.g. "
                                                 "chorales,ryansMammoth,oneills1850 (default: config)"),
              steps: int | None = typer.Option(None, min=1, help="training steps (default: the preset's)"),
              seed: int = typer.Option(0, min=0),
              threads: int | None = typer.Option(None, min=1, help="torch CPU threads (1 is fastest for tiny presets)"),
              out: Path | None = typer.Option(None, help="checkpoint path (default <data_dir>/models/musicvae/)"),
              max_minutes: float | None = typer.Option(None, min=0.1, help="stop training after this long "
                                                       "(the checkpoint is written all the same)"),
              as_json: bool = typer.Option(False, "--json")) -> None:
        """Train a Music-VAE preset on music21's bundled corpus and/or your MIDI files."""
        from gallery.logs import progress_bar
        from generator.musicvae.presets import get_preset
        from generator.musicvae.train import train as run_training

        st = state(ctx)
        p = get_preset(preset)
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        if no_corpus and midi is None:
            raise BadInput("--no-corpus needs --midi DIR")
        from generator.musicvae.settings import KNOWN_SOURCES

        source_list = [s.strip() for s in sources.split(",") if s.strip()] if sources else None
        bad = [s for s in source_list or [] if s not in KNOWN_SOURCES]
        if bad or source_list == []:
            raise BadInput(f"--sources: unknown corpus source(s) {bad}; the bundled ones are {list(KNOWN_SOURCES)}")
        target = out or st.settings.path(f"models/musicvae/{p.name}.pt")
        total = steps or p.train.steps
        with progress_bar(f"train musicvae {p.name}", total, quiet=as_json) as advance:
            last = [0]

            def progress(step: int, rec: dict) -> None:
                advance(step + 1 - last[0], loss=round(rec["loss"], 2), kl=round(rec["kl"], 1),
                        acc=round(rec["acc"], 3))
                last[0] = step + 1
                if "heldout_tf_acc" in rec:
                    logging.getLogger(__name__).info(
                        "step %d: held-out teacher-forced %.3f, sampled %.3f", step,
                        rec["heldout_tf_acc"], rec["heldout_sampled_acc"])

            res = run_training(p.name, target, settings=st.settings, midi=str(midi) if midi else None, steps=steps,
                               seed=seed, corpus=not no_corpus, sources=source_list, progress=progress,
                               deadline=time.monotonic() + 60 * max_minutes if max_minutes else None)
        st.catalogue.register_model("musicvae", p.name, res["sha256"], preset=p.name, config=p.model.to_dict(),
                                    path=str(target), provenance={k: v for k, v in res.items() if k != "skipped"})
        if as_json:
            typer.echo(json.dumps(res))
            return
        for name, reason in res["skipped"]:
            typer.echo(f"skipped {name}: {reason}")
        typer.echo(f"{len(res['skipped'])} pieces/files skipped, {res['pieces']} used: "
                   f"{res['train_windows']} training / {res['heldout_windows']} held-out windows")
        typer.echo(f"held-out accuracy {res['heldout']}  ({res['train_seconds']} s)")
        typer.echo(f"checkpoint {target} sha256 {res['sha256']}")

    @import_app.command("musicvae")
    def import_musicvae(ctx: typer.Context,
                        path: Path = typer.Argument(..., help="TF checkpoint prefix, its .index, a folder holding "
                                                    "one, or a magenta-js folder (weights_manifest.json)"),
                        config: str = typer.Option(..., "--config", help="cat-mel_2bar_big | hierdec-mel_16bar"),
                        name: str | None = typer.Option(None, "--name", help="catalogue name (default: config-folder)"),
                        attribute_windows: int = typer.Option(0, "--attribute-windows", min=0, max=100_000,
                                                              help="compute density/pitch attribute vectors "
                                                              "from this many corpus windows (0: none)"),
                        midi: Path | None = typer.Option(None, "--midi", help="also use these MIDI files for "
                                                         "the attribute vectors"),
                        as_json: bool = typer.Option(False, "--json")) -> None:
        """Import one of Magenta's published Music-VAE checkpoints (no TensorFlow needed)."""
        from generator.musicvae.magenta_import import import_checkpoint

        st = state(ctx)
        info = import_checkpoint(path, config, st.settings, st.catalogue, name=name,
                                 attribute_windows=attribute_windows, midi=str(midi) if midi else None)
        if as_json:
            typer.echo(json.dumps(info))
            return
        sizes = info["sizes"]
        typer.echo(f"registered {info['name']} (model {info['model_id']}, {info['format']}, {info['bars']} bars, "
                   f"z {sizes['latent']}, encoder {sizes['enc_sizes']}, decoder {sizes['dec_sizes']}"
                   + ("" if info["published_sizes"] else ", not the published sizes") + f") -> {info['path']}")
        typer.echo(f"use it: set {info['config_key']}: {info['path']} in config.yaml"
                   + (f"; attribute vectors: {', '.join(info['attributes'])}" if info["attributes"] else
                      "; no attribute vectors (--attribute-windows N computes them)"))

    common = {
        "bars": typer.Option(2, help="2 or 16 (hierarchical)"),
        "instrument": typer.Option(None, help="General MIDI instrument: name or 0-127 (default: config)"),
        "tempo": typer.Option(None, help="beats per minute (default: config)"),
        "seed": typer.Option(0, min=0),
        "pair_with": typer.Option(None, "--pair-with", help="visual artwork id: the melody takes its duration"),
    }

    def _opts(bars: int, instrument: str | None, tempo: float | None, pair_with: int | None) -> dict:
        given = {"instrument": instrument, "tempo": tempo, "pair_with": pair_with}
        return {"bars": bars} | {k: v for k, v in given.items() if v is not None}

    @melody_app.command("sample")
    def sample(ctx: typer.Context, count: int = typer.Option(4, min=1, max=256),
               temperature: float | None = typer.Option(None, help="0 greedy .. 5 wild (default: config)"),
               attribute: list[str] = typer.Option([], "--attribute", help="NAME=AMOUNT, e.g. density=1.5"),
               bars: int = common["bars"], instrument: str | None = common["instrument"],
               tempo: float | None = common["tempo"], seed: int = common["seed"],
               pair_with: int | None = common["pair_with"], as_json: bool = typer.Option(False, "--json")) -> None:
        """Melodies drawn from the prior."""
        params = _opts(bars, instrument, tempo, pair_with) | {"count": count,
                                                               "attribute": _parse_attributes(attribute)}
        if temperature is not None:
            params["temperature"] = temperature
        _run(ctx, "musicvae.sample", params, seed, as_json)

    @melody_app.command("interpolate")
    def interpolate(ctx: typer.Context, a: str = typer.Argument(..., help="MIDI file, corpus:NAME or artwork:ID"),
                    b: str = typer.Argument(..., help="MIDI file, corpus:NAME or artwork:ID"),
                    steps: int = typer.Option(5, min=2, max=64),
                    temperature: float = typer.Option(0.0, help="0: greedy decoding"),
                    bars: int = common["bars"], instrument: str | None = common["instrument"],
                    tempo: float | None = common["tempo"], seed: int = common["seed"],
                    pair_with: int | None = common["pair_with"],
                    as_json: bool = typer.Option(False, "--json")) -> None:
        """Slerp between the encoder means of two melodies; the steps play one after another."""
        params = _opts(bars, instrument, tempo, pair_with) | {"a": a, "b": b, "steps": steps,
                                                               "temperature": temperature}
        _run(ctx, "musicvae.interpolate", params, seed, as_json)

    @melody_app.command("attribute")
    def attribute_cmd(ctx: typer.Context, melody: str = typer.Argument(..., help="MIDI file, corpus:NAME or artwork:ID"),
                      attribute: str = typer.Option("density", help="density | pitch"),
                      amounts: str = typer.Option("-2,-1,0,1,2", help="comma-separated multiples of the vector"),
                      bars: int = common["bars"], instrument: str | None = common["instrument"],
                      tempo: float | None = common["tempo"], seed: int = common["seed"],
                      as_json: bool = typer.Option(False, "--json")) -> None:
        """Add (or, with negative amounts, remove) an attribute vector such as note density."""
        try:
            values = [float(x) for x in amounts.split(",") if x.strip()]
        except ValueError:
            raise BadInput(f"--amounts {amounts!r}: comma-separated numbers, e.g. -1,0,1") from None
        params = _opts(bars, instrument, tempo, None) | {"melody": melody, "attribute": attribute,
                                                          "amounts": values}
        _run(ctx, "musicvae.attribute", params, seed, as_json)

    @melody_app.command("encode")
    def encode(ctx: typer.Context, melody: str = typer.Argument(..., help="MIDI file, corpus:NAME or artwork:ID"),
               bars: int = common["bars"],
               out: Path | None = typer.Option(None, help="write the greedy reconstruction to this MIDI file"),
               as_json: bool = typer.Option(False, "--json")) -> None:
        """Print a melody's latent code (encoder mean) and how well the model reconstructs it."""
        from generator.jobs import JobContext
        from generator.musicvae.jobs import decode_latents, encode_events, load_model, melody_from
        from generator.musicvae.render import events_to_midi

        st = state(ctx)
        jc = JobContext(settings=st.settings, catalogue=st.catalogue, workdir=st.settings.path("work/musicvae"))
        loaded = load_model(st.settings, bars)
        ev, _ = melody_from(melody, bars, jc)
        mu = encode_events(loaded, ev[None])
        rec = decode_latents(loaded, mu, 0.0, 0)[0]
        acc = float((rec == ev).mean())
        if out is not None:
            events_to_midi(rec, out, st.settings.musicvae.tempo, st.settings.musicvae.instrument)
        res = {"melody": melody, "checkpoint_sha256": loaded.sha256, "z": [round(float(v), 6) for v in mu[0]],
               "reconstruction_accuracy": round(acc, 4), "events": ev.tolist(), "reconstruction": rec.tolist()}
        if as_json:
            typer.echo(json.dumps(res))
        else:
            typer.echo(f"z ({len(res['z'])} dims): {res['z']}")
            typer.echo(f"greedy reconstruction matches {100 * acc:.1f}% of the {len(ev)} steps"
                       + (f"; written to {out}" if out else ""))
