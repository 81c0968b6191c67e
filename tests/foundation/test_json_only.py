"""With --json, stdout carries one JSON document and nothing else, for every command that has --json.

The commands run one after another in one fresh subprocess (json_batch.py) with their stdout caught at
the file-descriptor level, so a banner printed by a library (pygame's), a C library writing to fd 1, a
log handler writing to stdout: any of them fails the test. The show runs first, so that pygame is
imported for the first time in that process by the show itself. Every --json command of the CLI must
appear in PLAN (a new one fails test_plan_covers_every_json_command until it is added).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.foundation.ptyutil import read_until_closed

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "generator" / "weights"

# (argv, keep): argv may use {tmp}, {face}, {wavs} and values kept from earlier commands' JSON.
PLAN: list[tuple[list[str], str | None]] = [
    (["show", "--headless", "--record", "{tmp}/rec.mp4", "--seconds", "0.2", "--width", "64", "--height", "64",
      "--json"], None),
    (["generate", "procedural", "--count", "2", "--size", "32", "--json"], "image_id"),
    (["generate", "walk", "--seconds", "0.2", "--fps", "5", "--size", "32", "--json"], None),
    (["generate", "mix", "--rows", "1", "--cols", "2", "--size", "32", "--json"], None),
    (["generate", "bend", "--bend", "b16.conv1:rotate:45:0.5", "--size", "32", "--json"], None),
    (["generate", "project", "{face}", "--steps", "2", "--size", "32", "--json"], None),
    (["generate", "uncanny", "--steps", "1", "--faces", "1", "--size", "32", "--json"], None),
    (["generate", "vqclip", "a red circle", "-i", "2", "--cutouts", "2", "--json"], None),
    (["generate", "soundscape", "--duration", "0.5", "--iterations", "0", "--json"], None),
    (["generate", "melody", "sample", "--count", "1", "--json"], "melody_id"),
    (["generate", "melody", "interpolate", "artwork:{melody_id}", "artwork:{melody_id}", "--steps", "2", "--json"],
     None),
    (["generate", "melody", "attribute", "artwork:{melody_id}", "--amounts", "0", "--json"], None),
    (["generate", "melody", "encode", "artwork:{melody_id}", "--json"], None),
    (["catalogue", "ls", "--json"], None),
    (["catalogue", "show", "{image_id}", "--json"], None),
    (["catalogue", "export", "{image_id}", "--to", "{tmp}/export", "--json"], None),
    (["catalogue", "edit", "{image_id}", "--artist", "A. Artist", "--text", "A paragraph.", "--json"], None),
    (["catalogue", "delete", "{image_id}", "--json"], None),  # no --yes: what would go, nothing deleted
    (["catalogue", "retitle", "--defaults", "--dry-run", "--json"], None),
    (["catalogue", "stats", "--json"], None),
    (["dataset", "images", "{tmp}/export", "--name", "exported", "--resolution", "64", "--allow-upscale", "--json"],
     None),
    (["dataset", "emoji", "--limit", "3", "--json"], None),
    (["dataset", "ls", "--json"], None),
    (["dataset", "show", "exported", "--json"], None),
    (["catalogue", "verify", "--json"], None),
    (["lts", "anchors", "--json"], None),
    (["runs", "--json"], None),
    (["schedule", "list", "--json"], None),
    (["schedule", "once", "--minutes", "0.05", "--json"], None),
    (["curate", "search", "red", "--json"], None),
    (["curate", "similar", "{image_id}", "--json"], None),
    (["curate", "select", "--size", "2", "--json"], None),
    (["curate", "dups", "--json"], None),
    (["curate", "queue", "--json"], None),
    (["curate", "search", "red", "--json", "--save", "Reds"], None),  # "saved query ..." goes to stderr
    (["curate", "query", "ls", "--json"], None),
    (["curate", "query", "show", "Reds", "--json"], None),
    (["curate", "query", "run", "Reds", "--json"], None),
    (["curate", "set", "create", "a set", "{image_id}"], None),  # no --json: makes the set below
    (["curate", "set", "ls", "--json"], "set_id"),
    (["curate", "set", "show", "{set_id}", "--json"], None),
    (["import", "stylegan", "{tmp}/550000.pt", "--json"], None),
    (["import", "clip", str(SHIPPED / "vqgan_clip" / "clip-tiny-shapes.pt"), "--json"], None),
    (["import", "vqgan", str(SHIPPED / "vqgan_clip" / "vqgan-tiny-shapes.pt"), "--json"], None),
    (["import", "musicvae", str(REPO / "tests" / "fixtures" / "musicvae_tf" / "cat-mel_2bar_big"), "--config",
      "cat-mel_2bar_big", "--json"], None),
    (["train", "stylegan", "--steps", "1", "--out", "{tmp}/sg", "--json"], None),
    (["train", "clip", "--preset", "smoke", "--steps", "1", "--out", "{tmp}/clip.pt", "--json"], None),
    (["train", "vqgan", "--preset", "smoke", "--steps", "1", "--out", "{tmp}/vqgan.pt", "--json"], None),
    (["train", "lts", "--steps", "1", "--audio", "{wavs}", "--out", "{tmp}/lts.pt", "--json"], None),
    (["train", "musicvae", "--steps", "1", "--sources", "chorales", "--max-minutes", "0.1", "--out",
      "{tmp}/mv.pt", "--json"], None),
    (["curate", "set", "freeze", "{set_id}"], None),  # no --json: a frozen set to mint
    (["mint", "status", "--json"], None),
    # the default config's local dev chain (kept under data_dir) between these separate commands
    (["mint", "deploy", "--json"], None),
    (["mint", "set", "{set_id}", "--dry-run", "--json"], None),
    (["mint", "set", "{set_id}", "--json"], None),
    (["mint", "verify", "{set_id}", "--json"], None),
    (["mint", "chain", "status", "--json"], None),
]
REFUSE_WITHOUT_A_CHAIN: set[tuple[str, ...]] = set()


def _command(argv: list[str]) -> tuple[str, ...]:
    """The command words at the start of argv (walking the CLI's tree of groups)."""
    import typer.main

    from gallery.cli import app

    cmd, words = typer.main.get_command(app), []
    for a in argv:
        sub = getattr(cmd, "commands", {}).get(a)
        if sub is None:
            break
        cmd = sub
        words.append(a)
    return tuple(words)


def json_commands() -> set[tuple[str, ...]]:
    import typer.main

    from gallery.cli import app

    found = set()

    def walk(cmd, path):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, (*path, name))
        elif any("--json" in getattr(p, "opts", []) for p in cmd.params):
            found.add(path)

    walk(typer.main.get_command(app), ())
    return found


def test_plan_covers_every_json_command():
    planned = {_command(argv) for argv, _ in PLAN}
    missing = json_commands() - planned
    assert not missing, f"--json commands missing from PLAN: {sorted(missing)}"


def _write_wav(path: Path, seconds: float, freq: float) -> None:
    sr = 22050
    t = np.arange(int(sr * seconds)) / sr
    x = (0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.tobytes())


def test_every_json_command_prints_json_only(tmp_path):
    import cv2

    data = tmp_path / "data"
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"data_dir: {data}\ndevice: cpu\ncatalogue:\n  fsync: false\n"
                   "schedule:\n  windows:\n    - name: now\n      start: '00:00'\n      end: '23:59'\n"
                   "      days: '*'\n      jobs:\n        - kind: noop\n          count: 1\n")
    import torch

    from generator.stylegan.model import Generator
    from tests.stylegan.conftest import SMALL
    from tests.stylegan.test_checkpoints import _to_rosinality  # a real-layout rosinality checkpoint

    torch.manual_seed(0)
    torch.save({"g_ema": _to_rosinality(Generator(SMALL).eval())}, tmp_path / "550000.pt")
    face = tmp_path / "face.png"
    img = np.full((64, 64, 3), 200, np.uint8)
    cv2.circle(img, (32, 32), 20, (90, 120, 180), -1)
    cv2.imwrite(str(face), img)
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for i, f in enumerate((220.0, 330.0, 440.0)):
        _write_wav(wavs / f"tone{i}.wav", 1.5, f)
    fill = {"tmp": str(tmp_path), "face": str(face), "wavs": str(wavs)}
    plan = []
    for argv, keep in PLAN:
        args = [a.replace("{tmp}", fill["tmp"]).replace("{face}", fill["face"]).replace("{wavs}", fill["wavs"])
                for a in argv]
        plan.append({"argv": ["--config", str(cfg), *args], "keep": keep})
    plan_file, results_file = tmp_path / "plan.json", tmp_path / "results.json"
    plan_file.write_text(json.dumps(plan))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY") and k != "PYGAME_HIDE_SUPPORT_PROMPT"}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", SDL_VIDEODRIVER="offscreen", SDL_AUDIODRIVER="dummy")
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("json_batch.py")), str(plan_file),
                        str(results_file)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(results_file.read_text())
    assert len(results) == len(PLAN)
    problems = []
    for res in results:
        cmd = _command(res["argv"][2:])
        if "--json" not in res["argv"]:
            if res["code"] != 0:
                problems.append(f"{' '.join(cmd)}: exit {res['code']}: {res['stderr'][-400:]}")
            continue
        if cmd in REFUSE_WITHOUT_A_CHAIN:
            if res["code"] != 2 or res["stdout"].strip():
                problems.append(f"{' '.join(cmd)}: expected exit 2 and an empty stdout, got {res['code']}: "
                                f"{res['stdout'][:200]!r}")
            continue
        if res["code"] != 0:
            problems.append(f"{' '.join(cmd)}: exit {res['code']}: {res['stderr'][-600:]}")
            continue
        try:
            json.loads(res["stdout"])
        except ValueError as e:
            problems.append(f"{' '.join(cmd)}: stdout is not JSON ({e}): {res['stdout'][:300]!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("argv", [["generate", "procedural", "--count", "1", "--size", "32", "--json"],
                                  ["catalogue", "stats", "--json"]])
def test_logs_on_a_terminal_stay_off_stdout(tmp_path, argv):
    """stderr a terminal, stdout a pipe (`gallery … --json | jq`): the rich log handler writes to stderr."""
    import pty

    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"data_dir: {tmp_path / 'data'}\ncatalogue:\n  fsync: false\n")
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "gallery.cli", "--config", str(cfg), *argv], stdout=subprocess.PIPE,
                         stderr=slave, env=env, cwd=tmp_path)
    os.close(slave)
    err = read_until_closed(master)
    out = p.stdout.read().decode()
    assert p.wait(timeout=300) == 0, err.decode()[-2000:]
    os.close(master)
    json.loads(out)
    assert b"catalogue migrated" in err  # the log line went to the terminal, not into the JSON
