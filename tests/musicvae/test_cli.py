from pathlib import Path

from gallery.cli import main

from .helpers import scale_melody, write_midi


class Result:
    def __init__(self, exit_code: int, output: str) -> None:
        self.exit_code, self.output = exit_code, output


def gallery(capsys, args: list[str]) -> Result:
    """Run the real entry point (exit codes 0 / 1 / 2 as a user sees them)."""
    code = 0
    try:
        main(args)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return Result(code, out.out + out.err)


def _config(config_file, micro_models):
    text = config_file.read_text() + (f"musicvae:\n  checkpoint_2bar: {micro_models[2]}\n"
                                      f"  checkpoint_16bar: {micro_models[16]}\n")
    config_file.write_text(text)
    return str(config_file)


def test_train_on_a_midi_folder_reports_unusable_files(config_file, tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(3):
        write_midi(folder / f"tune{i}.mid", scale_melody(6, base=60 + i, seed=i))
    write_midi(folder / "tiny.mid", scale_melody(1))
    (folder / "junk.mid").write_bytes(b"nope")
    out = tmp_path / "mine.pt"
    res = gallery(capsys, ["--config", str(config_file), "train", "musicvae", "--preset", "tiny-2bar",
                                   "--midi", str(folder), "--no-corpus", "--steps", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "tiny.mid: too short" in res.output and "junk.mid: not a readable MIDI file" in res.output
    assert "2 pieces/files skipped, 3 used" in res.output
    assert out.is_file()
    from generator.musicvae.checkpoints import load

    loaded = load(out)
    assert loaded.preset == "tiny-2bar" and loaded.info["steps"] == 3 and set(loaded.attributes) <= {"density",
                                                                                                     "pitch"}


def test_train_rejects_bad_options(config_file, tmp_path, capsys):
    r = gallery(capsys, ["--config", str(config_file), "train", "musicvae", "--preset", "giant"])
    assert r.exit_code == 2 and "unknown Music-VAE preset 'giant'" in r.output
    r = gallery(capsys, ["--config", str(config_file), "train", "musicvae", "--no-corpus"])
    assert r.exit_code == 2 and "--no-corpus needs --midi" in r.output
    r = gallery(capsys, ["--config", str(config_file), "train", "musicvae", "--midi", str(tmp_path / "x")])
    assert r.exit_code == 2 and "not a folder" in r.output
    r = gallery(capsys, ["--config", str(config_file), "train", "musicvae", "--sources", "chorales,jazz"])
    assert r.exit_code == 2 and "unknown corpus source(s) ['jazz']" in r.output


def test_generate_melody_commands(config_file, micro_models, tmp_path, capsys):
    cfg = _config(config_file, micro_models)
    a = write_midi(tmp_path / "a.mid", scale_melody(2, base=60, seed=1))
    b = write_midi(tmp_path / "b.mid", scale_melody(2, base=67, seed=2))
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "interpolate", str(a), str(b), "--steps", "3"])
    assert r.exit_code == 0, r.output
    assert "melody artwork" in r.output
    # every file is printed as a path with its extension (the files view), and the path opens
    paths = {line.split()[0]: line.split()[-1] for line in r.output.splitlines() if line.startswith("  ")}
    assert set(paths) == {"midi", "audio", "pianoroll", "thumbnail"}
    assert paths["audio"].endswith("/audio.wav") and paths["midi"].endswith("/midi.mid")
    assert Path(paths["audio"]).read_bytes()[:4] == b"RIFF" and Path(paths["midi"]).read_bytes()[:4] == b"MThd"
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "sample", "--count", "1", "--attribute", "density=1",
                  "--json"])
    assert r.exit_code == 0 and '"artworks"' in r.output, r.output
    out = tmp_path / "rec.mid"
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "encode", str(a), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    import json

    res = json.loads(r.output)
    assert len(res["z"]) == 8 and 0 <= res["reconstruction_accuracy"] <= 1 and out.is_file()
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "interpolate", str(a), str(tmp_path / "none.mid")])
    assert r.exit_code == 2 and "no such file" in r.output
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "sample", "--attribute", "density"])
    assert r.exit_code == 2 and "NAME=AMOUNT" in r.output
    r = gallery(capsys, ["--config", cfg, "generate", "melody", "sample", "--instrument", "kazoo"])
    assert r.exit_code == 2 and "General MIDI" in r.output


def test_demo_step_interpolates_two_corpus_reels(mv_settings, catalogue, tmp_path):
    from gallery.demo import DemoContext
    from generator.musicvae.demo import interpolation_step

    dc = DemoContext(settings=mv_settings, catalogue=catalogue, out_dir=tmp_path, quick=True)
    res = interpolation_step(dc)
    art = catalogue.get(res["melody"])
    assert art.kind == "melody" and art.recipe["bars"] == 2 and len(art.recipe["events"]) == 5
    assert art.recipe["a"]["ref"] == "corpus:ryansMammoth/BunchOfRosesReel"
    assert res["audio"] and res["seconds"] == round(5 * 32 * 60 / 120 / 4, 1)
