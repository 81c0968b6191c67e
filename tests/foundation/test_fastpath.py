"""The per-machine fast-path cache (generator.fastpath): measured once, written, reused; forced
choices; a corrupted cache file ignored with a warning; the machine description every bench prints."""

from __future__ import annotations

import json
import logging
import re
import time
from pathlib import Path

import pytest

from gallery.errors import BadInput
from gallery.machine import describe, machine_key, machine_line
from generator import fastpath

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path: Path):
    path = fastpath.configure(tmp_path / "cache" / "fastpath.json")
    yield path
    fastpath.configure(None)


def _variants(calls: list[str], slow: str = "on", delay: float = 0.004) -> dict:
    def make(name: str):
        def f() -> None:
            calls.append(name)
            if name == slow:
                time.sleep(delay)
        return f
    return {"on": make("on"), "off": make("off")}


def test_calibration_is_written_then_reused_without_measuring(cache: Path) -> None:
    calls: list[str] = []
    assert fastpath.choose("t.layout", "64x64", _variants(calls), default="on") == "off"
    # interleaved: both variants ran, at least MIN_REPS times each after a warm-up
    assert calls.count("on") >= fastpath.MIN_REPS + 1 and calls.count("off") >= fastpath.MIN_REPS + 1
    data = json.loads(cache.read_text())
    (key, rec), = data["choices"].items()
    assert key == fastpath.cache_key("t.layout", "64x64") and machine_key() in key
    assert rec["choice"] == "off" and rec["median_s"]["on"] > rec["median_s"]["off"]
    # a new process (memory cleared): the file answers, nothing is measured
    fastpath.configure(None)
    fastpath.configure(cache)
    calls.clear()
    assert fastpath.choose("t.layout", "64x64", _variants(calls), default="on") == "off"
    assert calls == []
    # another size is another calibration, kept beside the first
    assert fastpath.choose("t.layout", "128x128", _variants(calls, slow="off"), default="on") == "on"
    assert len(json.loads(cache.read_text())["choices"]) == 2


def test_a_tie_keeps_the_default(cache: Path) -> None:
    assert fastpath.pick({"on": 1.02, "off": 1.0}, "on", 0.03) == "on"
    assert fastpath.pick({"on": 1.10, "off": 1.0}, "on", 0.03) == "off"
    assert fastpath.pick({"on": 1.0, "off": 1.2}, "off", 0.03) == "on"


def test_forcing_skips_the_calibration_and_bad_values_are_refused(cache: Path) -> None:
    calls: list[str] = []
    assert fastpath.choose("t.force", "k", _variants(calls, slow="off"), default="on", force="off") == "off"
    assert fastpath.choose("t.force", "k", _variants(calls), default="on", force="on") == "on"
    assert calls == [] and not cache.exists()
    with pytest.raises(BadInput, match=r"t\.force.*'sometimes'"):
        fastpath.choose("t.force", "k", _variants(calls), default="on", force="sometimes")


@pytest.mark.parametrize("content", ["{not json", '["a list"]', '{"choices": 3}', "\x00\x01"])
def test_a_corrupted_cache_is_ignored_with_a_warning_and_rewritten(cache: Path, caplog, content: str) -> None:
    cache.parent.mkdir(parents=True)
    cache.write_text(content)
    calls: list[str] = []
    with caplog.at_level(logging.WARNING, logger="generator.fastpath"):
        assert fastpath.choose("t.bad", "k", _variants(calls), default="on") == "off"
    assert calls, "the choice was measured again"
    assert any("corrupted" in r.getMessage() and str(cache) in r.getMessage() for r in caplog.records)
    assert json.loads(cache.read_text())["choices"][fastpath.cache_key("t.bad", "k")]["choice"] == "off"


def test_an_unknown_cached_choice_is_measured_again(cache: Path, caplog) -> None:
    cache.parent.mkdir(parents=True)
    key = fastpath.cache_key("t.unknown", "k")
    cache.write_text(json.dumps({"version": 1, "choices": {key: {"choice": "maybe"}}}))
    calls: list[str] = []
    with caplog.at_level(logging.WARNING, logger="generator.fastpath"):
        assert fastpath.choose("t.unknown", "k", _variants(calls), default="on") == "off"
    assert calls and any("unknown choice" in r.getMessage() for r in caplog.records)


def test_configure_from_settings_puts_the_cache_under_data_dir(settings) -> None:
    try:
        path = fastpath.configure(settings)
        assert path == settings.path(fastpath.CACHE_NAME)
        assert fastpath.choose("t.settings", "k", _variants([]), default="on") == "off"
        assert path.is_file()
    finally:
        fastpath.configure(None)


def test_machine_description_names_cpu_torch_threads_and_load() -> None:
    import torch

    info = describe()
    assert info["threads"] == torch.get_num_threads() and info["torch"] == torch.__version__
    assert info["torch_capability"] == torch.backends.cpu.get_cpu_capability()
    line = machine_line(info)
    for part in (info["cpu"], info["torch_capability"], f"{info['threads']} torch threads", "load "):
        assert part in line
    assert ("GPU: none" in line) == (not torch.cuda.is_available())
    json.dumps(info)  # JSON-able: benches may store it beside their figures


def test_every_bench_script_prints_the_machine() -> None:
    scripts = sorted((ROOT / "bench").glob("*.py"))
    assert len(scripts) >= 15
    missing = [p.name for p in scripts if not re.search(r"\bprint_machine\(", p.read_text())]
    assert not missing, f"bench scripts that do not print the machine beside their tables: {missing}"
