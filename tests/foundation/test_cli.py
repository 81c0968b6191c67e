"""The `gallery` CLI end to end, as a user runs it (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def gallery(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gallery.cli", "--config", str(config), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_generate_list_show_stats_verify_gc(config_file, data_dir):
    r = gallery(config_file, "generate", "procedural", "--count", "3", "--size", "64", "--json")
    assert r.returncode == 0, r.stderr
    ids = json.loads(r.stdout)["artworks"]
    assert len(ids) == 3

    r = gallery(config_file, "catalogue", "ls", "--json")
    rows = json.loads(r.stdout)
    assert sorted(a["id"] for a in rows) == sorted(ids)
    assert {m["role"] for m in rows[0]["media"]} == {"image", "thumbnail"}

    r = gallery(config_file, "catalogue", "show", str(ids[0]), "--json")
    shown = json.loads(r.stdout)
    assert shown["recipe"]["generator"] == "procedural.images"
    assert gallery(config_file, "catalogue", "show", "99999").returncode == 2

    st = json.loads(gallery(config_file, "catalogue", "stats", "--json").stdout)
    assert st["artworks"] == 3 and st["blobs"] == 6

    assert gallery(config_file, "catalogue", "verify").returncode == 0
    # corrupt one blob: verify fails with exit 1 and names it; --repair quarantines
    blob = next((data_dir / "media" / "sha256").rglob("*"), None)
    while blob is not None and blob.is_dir():
        blob = next(blob.iterdir())
    blob.write_bytes(b"rot")
    r = gallery(config_file, "catalogue", "verify")
    assert r.returncode == 1 and "corrupt" in r.stdout
    r = gallery(config_file, "catalogue", "verify", "--repair", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["repaired"]
    assert gallery(config_file, "catalogue", "verify").returncode == 0
    q = json.loads(gallery(config_file, "catalogue", "ls", "--status", "quarantined", "--json").stdout)
    assert len(q) == 1

    r = gallery(config_file, "catalogue", "gc")
    assert r.returncode == 0 and "removed" in r.stdout
    r = gallery(config_file, "catalogue", "upgrade")
    assert (r.returncode == 0 and "0001" in r.stdout) or "revision" in r.stdout


def test_usage_errors_exit_2(config_file):
    assert gallery(config_file, "catalogue", "ls", "--limit", "0").returncode == 2
    assert gallery(config_file, "no-such-command").returncode == 2


def test_demo_runs(tmp_path, config_file):
    r = gallery(config_file, "demo", "--data-dir", str(tmp_path / "demo"), "--quick")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Latent Gallery demo" in r.stdout
