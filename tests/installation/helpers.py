"""Helpers: the show's settings for tests (sample works: generator.samples; recordings: installation.recording)."""

from __future__ import annotations


def show_settings(settings, **kw):
    """The settings fixture with a `show:` section for tests (short items, no HTTP port)."""
    from installation.settings import ShowSettings

    base = {"durations": {"image": 2.0}, "default_duration": 2.0, "transition_seconds": 0.5, "label_seconds": 0.5,
            "label_fade": 0.2, "http_port": 0, "seed": 3, "fresh_hours": 0}
    base.update(kw)
    return ShowSettings(**base)
