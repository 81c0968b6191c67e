from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gallery.config import load_settings
from gallery.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text)
    return p


def test_repo_config_is_valid():
    s = load_settings(REPO / "config.yaml", environ={})
    assert s.data_dir == (REPO / "gallery-data").resolve()
    assert s.catalogue_url.startswith("sqlite:///")


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, environ={})
    assert s.source == "<defaults>" and s.device == "auto"


def test_unknown_key_names_file_and_path(tmp_path):
    p = write(tmp_path, "catalogue:\n  urll: sqlite:///x\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={})
    msg = str(e.value)
    assert str(p) in msg and "catalogue.urll" in msg and "unknown key" in msg


def test_wrong_type_and_impossible_value(tmp_path):
    p = write(tmp_path, "seed: lots\ncatalogue:\n  busy_timeout_ms: -5\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={})
    msg = str(e.value)
    assert "seed" in msg and "'lots'" in msg
    assert "catalogue.busy_timeout_ms" in msg and "greater than or equal to 0" in msg


def test_bad_url_and_bad_enum(tmp_path):
    p = write(tmp_path, "device: tpu\ncatalogue:\n  url: just-a-path.db\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={})
    assert "device" in str(e.value) and "catalogue.url" in str(e.value)


def test_yaml_syntax_error_names_the_line(tmp_path):
    p = write(tmp_path, "seed: 1\ncatalogue:\n  url: [unclosed\n  fsync: true\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={})
    assert "line 4" in str(e.value) or "line 3" in str(e.value)
    assert "YAML syntax error" in str(e.value)


def test_top_level_must_be_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"), environ={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_environment_overrides(tmp_path):
    p = write(tmp_path, "catalogue:\n  busy_timeout_ms: 1000\n")
    env = {"GALLERY__CATALOGUE__URL": "sqlite:////tmp/other.sqlite", "GALLERY__CATALOGUE__BUSY_TIMEOUT_MS": "2500",
           "GALLERY__SEED": "42", "UNRELATED": "x"}
    s = load_settings(p, environ=env)
    assert s.catalogue.url == "sqlite:////tmp/other.sqlite"
    assert s.catalogue.busy_timeout_ms == 2500 and s.seed == 42


def test_bad_environment_override_is_named(tmp_path):
    p = write(tmp_path, "{}\n")
    with pytest.raises(ConfigError) as e:
        load_settings(p, environ={"GALLERY__CATALOGUE__FSYNC": "perhaps"})
    assert "environment GALLERY__CATALOGUE__FSYNC" in str(e.value)
    with pytest.raises(ConfigError, match="unknown key"):
        load_settings(p, environ={"GALLERY__NOPE": "1"})


def test_relative_data_dir_is_relative_to_the_file(tmp_path):
    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "config.yaml"
    p.write_text("data_dir: here\n")
    assert load_settings(p, environ={}).data_dir == (tmp_path / "sub" / "here").resolve()


def gallery(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gallery.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


def test_config_check_cli_exit_codes(tmp_path):
    good = write(tmp_path, f"data_dir: {tmp_path}/d\n")
    r = gallery("config", "check", "--config", str(good))
    assert r.returncode == 0, r.stderr
    assert "ok" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("catalogue:\n  fsync: sometimes\n")
    r = gallery("config", "check", "--config", str(bad))
    assert r.returncode == 2
    assert "catalogue.fsync" in r.stderr and str(bad) in r.stderr
    # the global option works too, and a bad config stops any command before it does anything
    r = gallery("--config", str(bad), "catalogue", "ls")
    assert r.returncode == 2 and "catalogue.fsync" in r.stderr
    assert not (tmp_path / "d").exists()
