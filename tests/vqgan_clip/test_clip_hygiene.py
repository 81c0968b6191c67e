"""Loading CLIP leaves nothing behind in the temporary folder and prints no routine INFO lines."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from gallery.config import load_settings
from gallery.logs import setup_logging
settings = load_settings(None, environ={}, overrides={"data_dir": sys.argv[1]})
setup_logging("INFO")  # as every command does: a plain handler on stderr (not a terminal here)
from generator.vqgan_clip.clip import create_model, load_clip, register_config
search = load_clip(settings, device="cpu")
guide = load_clip(settings, device="cpu", guide=True)
search.encode_texts(["a red circle"])
guide.text_features(["a blue square"])
register_config("lg-hygiene-extra", None)  # another configuration, registered after the first
create_model("lg-hygiene-extra")
print("loaded", search.name, search.dim)
"""


def test_loading_clip_leaves_no_temporary_folder_and_no_info_noise(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GALLERY")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", TMPDIR=str(tmp))
    seen = []
    for _ in range(2):
        r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "data")], env=env, capture_output=True,
                           text=True, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.startswith("loaded ")
        seen.append(sorted(p.name for p in tmp.iterdir()))
        # open_clip's six INFO lines per load ("Parsing tokenizer identifier", ...) are not shown
        for needle in ("Parsing tokenizer", "Attempting to load config", "SimpleTokenizer", "open_clip"):
            assert needle not in r.stderr, r.stderr[-2000:]
    # Importing open_clip imports torch._dynamo, which makes torch's compile cache folder
    # torchinductor_<user>: one fixed name per user, reused by every process. Nothing else is left, and a
    # second process adds nothing (open_clip's config files used to stay in a new folder per process).
    assert all(name.startswith("torchinductor_") for name in seen[0]), seen[0]
    assert seen[1] == seen[0]


def _record(path: str, level: int) -> logging.LogRecord:
    return logging.LogRecord("root", level, path, 1, "message", None, None)


def test_the_filter_keeps_warnings_and_other_packages():
    from gallery.logs import QuietLibraries

    f = QuietLibraries()
    oc = os.path.join(os.sep, "venv", "site-packages", "open_clip", "factory.py")
    assert not f.filter(_record(oc, logging.INFO))
    assert not f.filter(_record(oc, logging.DEBUG))
    assert f.filter(_record(oc, logging.WARNING))  # a real problem still shows
    assert f.filter(_record(oc, logging.ERROR))
    assert f.filter(_record(os.path.join(os.sep, "repo", "generator", "vqgan_clip", "clip.py"), logging.INFO))
    # a package whose name only starts like it is not silenced
    assert f.filter(_record(os.path.join(os.sep, "venv", "open_clip_extra", "x.py"), logging.INFO))
