"""Fixtures of the scheduler tests: test-only job kinds importable by worker subprocesses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _testjobs_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Worker subprocesses import test jobs as ``schedtestjobs:NAME``.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
