"""Calendar maths of the windows: the zone, a window's cron trigger, its occurrences (start, end)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Protocol

from generator.schedule.settings import ScheduleSettings, Window, parse_hhmm


class Clock(Protocol):
    def now(self) -> datetime:  # timezone-aware
        ...


@dataclass
class SystemClock:
    tz: tzinfo

    def now(self) -> datetime:
        return datetime.now(self.tz)


def zone(sched: ScheduleSettings) -> tzinfo:
    if sched.timezone:
        from zoneinfo import ZoneInfo

        return ZoneInfo(sched.timezone)
    from tzlocal import get_localzone

    return get_localzone()


def trigger_for(window: Window, tz: tzinfo):
    from apscheduler.triggers.cron import CronTrigger

    if window.cron is not None:
        return CronTrigger.from_crontab(window.cron, timezone=tz)
    assert window.start is not None
    t = parse_hhmm(window.start)
    return CronTrigger(day_of_week=window.days, hour=t.hour, minute=t.minute, timezone=tz)


def as_utc(t: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare and subtract by wall clock in Python; UTC is exact across DST.
    return t.astimezone(UTC)


def occurrence_end(window: Window, start: datetime) -> datetime:
    """Where an occurrence ends: `end` is a wall-clock time (07:00 stays 07:00 on the night the clocks
    change); `duration_minutes` is elapsed time."""
    if window.end is not None:
        return (start + timedelta(minutes=window.minutes)).replace(fold=0)
    return as_utc(start) + timedelta(minutes=window.minutes)


def current_occurrence(window: Window, now: datetime, tz: tzinfo) -> tuple[datetime, datetime] | None:
    """The (start, end) of the window occurrence that contains ``now``, or None (the latest if several)."""
    trig = trigger_for(window, tz)
    found = None
    now_u = as_utc(now)
    t = trig.get_next_fire_time(None, (now_u - timedelta(minutes=window.minutes + 120)).astimezone(tz))
    while t is not None and as_utc(t) <= now_u:
        end = occurrence_end(window, t)
        if as_utc(end) > now_u:
            found = (t, end)
        t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
    return found


def next_occurrences(window: Window, now: datetime, tz: tzinfo, n: int = 3) -> list[tuple[datetime, datetime]]:
    trig = trigger_for(window, tz)
    out = []
    t = trig.get_next_fire_time(None, now)
    while t is not None and len(out) < n:
        out.append((t, occurrence_end(window, t).astimezone(tz)))
        t = trig.get_next_fire_time(t, t + timedelta(seconds=1))
    return out


def naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)
