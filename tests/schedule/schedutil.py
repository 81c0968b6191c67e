"""Helpers of the scheduler tests: a fake clock and settings with a `schedule` section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass
class FakeClock:
    t: datetime

    def now(self) -> datetime:
        return self.t

    def advance(self, **kw: float) -> None:
        self.t += timedelta(**kw)


def sched_settings(settings: Any, **schedule: Any) -> Any:
    """The test settings with a `schedule` section, validated like config.yaml."""
    from gallery.config import Settings

    data = settings.model_dump(mode="json")
    data["schedule"] = {"timezone": "UTC", "min_free_disk_mb": 0, "kill_grace_s": 1, **schedule}
    return Settings.model_validate(data)
