"""The prepared GPU check parses, and its Python pieces run their CPU dry-run (tiny sizes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_script_parses_and_names_every_section() -> None:
    script = ROOT / "bench" / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    for section in ("-m cuda", "gpu_bench.py stylegan --preset ffhq1024 --batch 1", "vqclip --size 512 --cutouts 64",
                    "train --preset ffhq256", "show --size 3840x2160"):
        assert section in text


def test_gpu_bench_stylegan_dry_run_on_the_cpu() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_bench.py"), "stylegan", "--dry-run"],
                         capture_output=True, text=True, env=env, timeout=300, check=True).stdout
    assert out.startswith("machine: ")
    res = json.loads(out.strip().splitlines()[-1])
    assert res["dry_run"] and res["section"] == "stylegan" and res["fps"] > 0 and res["batch1_fast_path"] in ("on", "off")
