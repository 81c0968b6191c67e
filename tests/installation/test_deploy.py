"""The systemd unit and the desktop autostart file a technician installs."""

from __future__ import annotations

import configparser
from pathlib import Path

from tests.installation.helpers import show_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def read(name: str) -> configparser.ConfigParser:
    cp = configparser.ConfigParser(interpolation=None, strict=False)  # Environment= repeats
    cp.optionxform = str  # keys are case-sensitive in unit files
    cp.read_string(DEPLOY.joinpath(name).read_text())
    return cp


def test_unit_restarts_on_exit_and_on_a_stalled_heartbeat(settings):
    svc = read("gallery-show.service")["Service"]
    assert svc["Type"] == "notify" and svc["Restart"] == "always"
    assert "gallery show --fullscreen" in svc["ExecStart"]
    watchdog = int(svc["WatchdogSec"])
    # the show beats (WATCHDOG=1) every heartbeat_seconds: several beats fit in the watchdog time
    assert watchdog >= 5 * show_settings(settings, heartbeat_seconds=2.0).heartbeat_seconds


def test_desktop_autostart_starts_the_unit():
    entry = read("gallery-show.desktop")["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert "systemctl --user" in entry["Exec"] and "gallery-show" in entry["Exec"]
    assert "DISPLAY" in entry["Exec"]
