"""`gallery dataset images`: what is kept and dropped (and why), streaming reads, all-or-nothing writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from catalogue.datasets import get_dataset, list_datasets
from gallery.errors import BadInput
from gallery.media import read_image
from generator.datasets import images as images_mod
from generator.datasets.image_store import ImageDataset
from generator.datasets.images import fit_square, make_image_dataset
from tests.datasets.helpers import hostile_folder, save, smooth

REPO = Path(__file__).resolve().parents[2]


def gallery(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _by_reason(prov: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in prov["dropped"]:
        out.setdefault(d["reason"], []).append(d["file"])
    return {k: sorted(v) for k, v in out.items()}


def test_cli_builds_names_every_drop_and_lists(tmp_path, config_file, data_dir):
    folder = tmp_path / "art"
    want = hostile_folder(folder)
    r = gallery(config_file, "dataset", "images", str(folder), "--name", "art", "--resolution", "64", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert _by_reason(doc) == {k: v for k, v in want.items() if k != "kept"}
    c = doc["counts"]
    assert (c["files"], c["kept"], c["dropped_duplicate"], c["dropped_near_duplicate"], c["dropped_unreadable"],
            c["dropped_too_small"], c["dropped_too_large"], c["ignored_other_files"]) == (10, 4, 1, 1, 2, 1, 1, 1)
    of = {d["file"]: d["of"] for d in doc["dropped"]}
    assert of["z_copy_of_a.webp"] == "a.png" and of["sub/y_b_resized.jpeg"] == "b.jpg"
    assert Path(doc["contact_sheet"]).is_file() and doc["source"] == str(folder.resolve())

    ds = ImageDataset(doc["path"])
    assert ds.sources == want["kept"] and ds.shape == (4, 64, 64, 3) and ds.verify()
    # what was stored is the picture fitted: decoded reduced (box, to no smaller than 64), centre square, Lanczos
    expect = fit_square(read_image(folder / "sub" / "d.png", fit=(64, 64), cover=True), 64, "crop", (255, 255, 255))
    assert np.array_equal(ds[3], expect)

    listed = json.loads(gallery(config_file, "dataset", "ls", "--json").stdout)
    assert [(d["name"], d["count"], d["resolution"]) for d in listed] == [("art", 4, 64)]
    shown = gallery(config_file, "dataset", "show", "art")
    assert shown.returncode == 0 and "bomb.png: too_large" in shown.stdout and "contact_sheet.png" in shown.stdout
    assert "truncated.jpg: unreadable" in shown.stdout and "not_an_image.png: unreadable" in shown.stdout


def test_allow_upscale_keeps_the_small_one_with_a_warning(tmp_path, settings, catalogue):
    folder = tmp_path / "art"
    hostile_folder(folder)
    said: list[str] = []
    res = make_image_dataset(settings, catalogue, folder, "up", 64, allow_upscale=True, say=said.append)
    assert res.upscaled == ["tiny.png"] and "tiny.png" in res.kept and len(res.kept) == 5
    assert any("tiny.png" in m and "upscaled" in m for m in said)
    assert get_dataset(catalogue, "up").provenance["upscaled"] == ["tiny.png"]


def test_pad_keeps_the_whole_picture_on_the_background(tmp_path):
    wide = smooth(7, 200, 100)
    sq = fit_square(wide, 64, "pad", (255, 255, 255))
    assert sq.shape == (64, 64, 3)
    assert (sq[:15] == 255).all() and (sq[-15:] == 255).all()  # 200x100 -> 64x32 in the middle
    assert not (sq[20:44] == 255).all()
    cropped = fit_square(wide, 64, "crop", (255, 255, 255))
    assert not (cropped[:15] == 255).all()


def test_transparent_pixels_become_the_background(tmp_path, settings, catalogue):
    rgba = np.zeros((80, 80, 4), np.uint8)
    rgba[20:60, 20:60] = (200, 30, 30, 255)
    save(rgba, tmp_path / "art" / "dot.png")
    res = make_image_dataset(settings, catalogue, tmp_path / "art", "alpha", 64, background=(0, 0, 255))
    img = ImageDataset(res.folder)[0]
    assert tuple(img[2, 2]) == (0, 0, 255) and tuple(img[32, 32]) == (200, 30, 30)


def test_streams_batches_from_a_memory_map(tmp_path, settings, catalogue):
    folder = tmp_path / "many"
    for i in range(24):
        save(smooth(100 + i, 96, 96), folder / f"{i:02d}.png")
    res = make_image_dataset(settings, catalogue, folder, "many", 64)
    assert len(res.kept) == 24
    ds = ImageDataset(settings.path(get_dataset(catalogue, "many").path))
    assert isinstance(ds._mm, np.memmap)  # nothing read until asked
    first = next(ds.batches(5, shuffle=True, seed=3))
    order = np.random.default_rng(3).permutation(24)[:5]
    assert first.shape == (5, 64, 64, 3) and first.dtype == np.uint8
    for img, k in zip(first, order, strict=True):
        assert np.array_equal(img, fit_square(read_image(folder / f"{k:02d}.png"), 64, "crop", (255, 255, 255)))
    sizes = [len(b) for b in ds.batches(5, shuffle=False)]
    assert sizes == [5, 5, 5, 5, 4] and [len(b) for b in ds.batches(5, drop_last=True)] == [5, 5, 5, 5]


def _nothing_left(settings, catalogue, name: str) -> None:
    assert get_dataset(catalogue, name) is None
    root = settings.path("datasets")
    assert not root.exists() or sorted(p.name for p in root.iterdir()) == []


@pytest.mark.parametrize("error", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_a_failure_mid_write_leaves_nothing(tmp_path, settings, catalogue, monkeypatch, error):
    folder = tmp_path / "many"
    for i in range(6):
        save(smooth(200 + i), folder / f"{i}.png")
    real, calls = images_mod.fit_square, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise error
        return real(*a, **k)

    monkeypatch.setattr(images_mod, "fit_square", failing)
    with pytest.raises(type(error)):
        make_image_dataset(settings, catalogue, folder, "half", 64)
    assert len(calls) == 4
    _nothing_left(settings, catalogue, "half")


def test_a_failure_while_registering_leaves_nothing_and_keeps_the_old_one(tmp_path, settings, catalogue, monkeypatch):
    import catalogue.datasets as cd

    folder = tmp_path / "art"
    for i in range(3):
        save(smooth(300 + i), folder / f"{i}.png")
    real = cd.put_dataset
    monkeypatch.setattr(cd, "put_dataset", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("database gone")))
    with pytest.raises(RuntimeError):
        make_image_dataset(settings, catalogue, folder, "reg", 64)
    _nothing_left(settings, catalogue, "reg")

    monkeypatch.setattr(cd, "put_dataset", real)
    first = make_image_dataset(settings, catalogue, folder, "reg", 64)
    save(smooth(399), folder / "9.png")
    monkeypatch.setattr(cd, "put_dataset", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("database gone")))
    with pytest.raises(RuntimeError):
        make_image_dataset(settings, catalogue, folder, "reg", 64, replace=True)
    row = get_dataset(catalogue, "reg")
    assert row.count == 3 and row.data_sha256 == first.data_sha256
    assert ImageDataset(first.folder).verify() and len(ImageDataset(first.folder)) == 3
    assert sorted(p.name for p in settings.path("datasets").iterdir()) == ["reg"]


def test_replace_rebuilds_and_a_taken_name_is_refused(tmp_path, settings, catalogue):
    folder = tmp_path / "art"
    for i in range(3):
        save(smooth(400 + i), folder / f"{i}.png")
    make_image_dataset(settings, catalogue, folder, "same", 64)
    with pytest.raises(BadInput, match="exists already"):
        make_image_dataset(settings, catalogue, folder, "same", 128)
    save(smooth(499), folder / "new.png")
    res = make_image_dataset(settings, catalogue, folder, "same", 128, replace=True)
    assert [(d.name, d.count, d.resolution) for d in list_datasets(catalogue)] == [("same", 4, 128)]
    assert ImageDataset(res.folder).shape == (4, 128, 128, 3)


def test_bad_input_exits_2_and_writes_nothing(tmp_path, config_file, data_dir):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no pictures here\n")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.png").write_text("text")
    (junk / "b.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    good = tmp_path / "good"
    save(smooth(1), good / "a.png")
    cases = [
        ((str(empty), "--name", "x", "--resolution", "64"), "no JPEG, PNG or WebP"),
        ((str(junk), "--name", "x", "--resolution", "64"), "no usable picture among 2 file(s) (2 unreadable)"),
        ((str(good), "--name", "x", "--resolution", "100"), "power of two"),
        ((str(good), "--name", "x", "--resolution", "2048"), "power of two"),
        ((str(tmp_path / "nowhere"), "--name", "x", "--resolution", "64"), "no such folder"),
        ((str(good), "--name", "../x", "--resolution", "64"), "dataset name"),
        ((str(good), "--name", "x", "--resolution", "64", "--fit", "stretch"), "use crop or pad"),
    ]
    for args, said in cases:
        r = gallery(config_file, "dataset", "images", *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert said in r.stderr, (args, r.stderr)
    ds_root = data_dir / "datasets"
    assert not ds_root.exists() or list(ds_root.iterdir()) == []
    assert json.loads(gallery(config_file, "dataset", "ls", "--json").stdout) == []
    assert gallery(config_file, "dataset", "images", str(good), "--name", "x", "--resolution", "64").returncode == 0
    r = gallery(config_file, "dataset", "images", str(good), "--name", "x", "--resolution", "64")
    assert r.returncode == 2 and "exists already" in r.stderr
    assert gallery(config_file, "dataset", "show", "nope").returncode == 2


def test_a_build_killed_mid_write_leaves_no_dataset_and_gc_removes_its_scratch(tmp_path, config_file, data_dir):
    import os
    import signal
    import time

    folder = tmp_path / "big"
    for i in range(300):
        save(smooth(1000 + i, 192, 192), folder / f"{i:03d}.png", compress_level=1)
    p = subprocess.Popen([sys.executable, "-m", "gallery.cli", "--config", str(config_file), "dataset", "images",
                          str(folder), "--name", "big", "--resolution", "128"], cwd=REPO,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = data_dir / "datasets"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill it once it has written some images, not all
            parts = list(root.glob(".tmp-big-*/images.u8")) if root.exists() else []
            if parts and parts[0].stat().st_size > 20 * 128 * 128 * 3:
                break
            assert p.poll() is None, "the build finished before it could be killed"
            time.sleep(0.005)
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(30)
    assert next(q.name for q in root.iterdir()).startswith(".tmp-big-") and not (root / "big").exists()
    assert json.loads(gallery(config_file, "dataset", "ls", "--json").stdout) == []
    assert gallery(config_file, "catalogue", "gc").returncode == 0
    assert list(root.iterdir()) == []
    assert gallery(config_file, "dataset", "images", str(folder), "--name", "big", "--resolution", "64").returncode == 0
