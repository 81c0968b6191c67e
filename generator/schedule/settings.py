"""Settings of the overnight scheduler: the `schedule` section of config.yaml.

A *programme* is a list of windows (e.g. 22:00-07:00 every night, or any cron expression with a
duration); each window lists job entries, either counted (run N times, interleaved round-robin so a
soundscape can pair with the walk just before it) or weighted (drawn by weight, with a seed, until
the window ends or ``max_jobs`` is reached).

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

import re
import string
from datetime import time as dtime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from catalogue.models import VISUAL_KINDS
from gallery.settings_base import Strict

_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_hhmm(value: str) -> dtime:
    m = _HHMM.match(value.strip())
    if not m:
        raise ValueError(f"{value!r} is not a time of day HH:MM (24-hour clock), e.g. '22:00'")
    return dtime(int(m.group(1)), int(m.group(2)))


def template_fields(template: str) -> set[str]:
    try:
        return {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise ValueError(f"prompt template {template!r}: {exc}") from None


class JobEntry(Strict):
    """One line of a window's programme."""

    # Job kind: a name from the job registry, generator/registry.py (noop, procedural.images, stylegan.walk, …),
    # or an explicit "module:function" for a studio's own job.
    kind: str
    # A label for logs and `gallery runs` (default: the kind).
    name: str | None = None
    # Parameters passed to the job (each kind documents its own); "seed" is set per job.
    params: dict[str, Any] = Field(default_factory=dict)
    # Run this many times per window (counted entries run first, interleaved round-robin).
    count: int | None = Field(None, ge=1, le=100_000)
    # Or: draw this entry with this weight after the counted ones, until the window ends.
    weight: float | None = Field(None, gt=0)
    # A fixed seed for every job of this entry (default: derived from the window seed, date and slot).
    seed: int | None = Field(None, ge=0)
    # Prompts to draw from (one per job, into params[prompt_param]).
    prompts: list[str] = Field(default_factory=list)
    # Or prompt templates such as "a {mood} portrait of {subject}", filled from `vocabulary`.
    prompt_templates: list[str] = Field(default_factory=list)
    vocabulary: dict[str, list[str]] = Field(default_factory=dict)
    # Which job parameter receives the drawn prompt.
    prompt_param: str = "prompt"
    # "previous_visual": pass the id of the latest visual artwork made in this window as
    # params["pair_with"] (a soundscape or melody paired to a new walk); the job is skipped if none yet.
    pair_with: Literal["previous_visual"] | None = None
    # The parameter that receives the visual's id (musicvae: pair_with; lts.soundscape: visual_id with
    # params.mode: timeline).
    pair_param: str = "pair_with"
    # Artwork kinds that count as the visual to pair with (default: every visual kind).
    pair_kinds: list[str] = Field(default_factory=lambda: list(VISUAL_KINDS), min_length=1)
    # Hard time limit of one job in seconds (also never past the window's end); default: schedule.job_timeout_s.
    timeout_s: float | None = Field(None, gt=0)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        from generator import registry

        if registry.is_kind(v):
            return v
        raise ValueError(f"unknown job kind {v!r}; known kinds: {', '.join(registry.kinds())} "
                         "(or give an importable 'module:function')")

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str | None) -> str | None:
        if v is not None and not _NAME.match(v):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-'")
        return v

    @field_validator("params")
    @classmethod
    def _params_json(cls, v: dict[str, Any]) -> dict[str, Any]:
        from generator.job_params import check_json_data

        check_json_data(v)  # JSON data within limits, for every kind (typed per kind: Window below)
        return v

    @field_validator("prompts")
    @classmethod
    def _prompts_ok(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("a prompt is empty")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> JobEntry:
        if self.count is not None and self.weight is not None:
            raise ValueError(f"job {self.label!r}: give either count or weight, not both")
        if self.prompts and self.prompt_templates:
            raise ValueError(f"job {self.label!r}: give either prompts or prompt_templates, not both")
        for t in self.prompt_templates:
            fields = template_fields(t)
            if any(not f.isidentifier() for f in fields):
                raise ValueError(f"job {self.label!r}: prompt template {t!r}: fields must be plain names like {{subject}}")
            missing = sorted(fields - set(self.vocabulary))
            if missing:
                raise ValueError(f"job {self.label!r}: prompt template {t!r} uses {', '.join(missing)} "
                                 "which vocabulary does not define")
        for word, choices in self.vocabulary.items():
            if not choices:
                raise ValueError(f"job {self.label!r}: vocabulary {word!r} is empty")
        if "seed" in self.params:
            raise ValueError(f"job {self.label!r}: put the seed in `seed`, not in params")
        return self

    @property
    def label(self) -> str:
        return self.name or self.kind

    def injected_params(self) -> dict[str, Any]:
        """What the scheduler adds to params per job (the longest prompt it may draw, a paired visual's
        id), so that config check validates them as parameters of the kind too."""
        out: dict[str, Any] = {}
        if self.prompts:
            out[self.prompt_param] = max(self.prompts, key=len)
        elif self.prompt_templates:
            longest = {k: max(v, key=len) for k, v in self.vocabulary.items() if v}
            out[self.prompt_param] = max((t.format(**longest) for t in self.prompt_templates), key=len)
        if self.pair_with is not None:
            out[self.pair_param] = 1
        return out

    def injected_reasons(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.prompts or self.prompt_templates:
            out[self.prompt_param] = "the entry's prompts go into it: set prompt_param to a parameter of this kind"
        if self.pair_with is not None:
            out[self.pair_param] = ("pair_with puts the visual's id into it: set pair_param to a parameter of "
                                    "this kind (musicvae: pair_with; lts.soundscape: visual_id with mode timeline)")
        return out

    @property
    def effective_weight(self) -> float:
        return 1.0 if self.weight is None and self.count is None else (self.weight or 0.0)


class Window(Strict):
    """A recurring period of generation."""

    # Name, used in run rows and job ids.
    name: str
    # Start as a time of day "22:00" (with `days`), or `cron` "0 22 * * *" (minute hour day month weekday).
    start: str | None = None
    cron: str | None = None
    # Days the window opens on with `start` (cron day_of_week: "*", "mon-fri", "sat,sun").
    days: str = "*"
    # End as a time of day (the next day if earlier than start), or the length in minutes.
    end: str | None = None
    duration_minutes: float | None = Field(None, gt=0, le=24 * 60)
    # Stop after this many jobs in one window (counted and drawn together); none: until the window ends.
    max_jobs: int | None = Field(None, ge=1)
    # Seed of the window's draws (jobs' seeds derive from it, the date and the slot).
    seed: int = Field(0, ge=0)
    jobs: list[JobEntry] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("use 1-64 letters, digits, '.', '_' or '-'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Window:
        if (self.start is None) == (self.cron is None):
            raise ValueError(f"window {self.name!r}: give exactly one of start (HH:MM) or cron")
        if (self.end is None) == (self.duration_minutes is None):
            raise ValueError(f"window {self.name!r}: give exactly one of end (HH:MM) or duration_minutes")
        if self.cron is not None and self.end is not None:
            raise ValueError(f"window {self.name!r}: with cron, give duration_minutes (end needs start)")
        if self.start is not None:
            try:
                parse_hhmm(self.start)
                if self.end is not None:
                    parse_hhmm(self.end)
            except ValueError as exc:
                raise ValueError(f"window {self.name!r}: {exc}") from None
            if self.end is not None and parse_hhmm(self.start) == parse_hhmm(self.end):
                raise ValueError(f"window {self.name!r}: start and end are the same time")
        from apscheduler.triggers.cron import CronTrigger

        try:
            if self.cron is not None:
                CronTrigger.from_crontab(self.cron, timezone="UTC")
            else:
                CronTrigger(day_of_week=self.days, hour=0, timezone="UTC")
        except ValueError as exc:
            what = f"cron {self.cron!r}" if self.cron is not None else f"days {self.days!r}"
            raise ValueError(f"window {self.name!r}: {what}: {exc}") from None
        from generator.registry import param_errors

        problems = [f"window {self.name!r}, job {i} ({job.label}): {msg}"
                    for i, job in enumerate(self.jobs, 1)
                    for msg in param_errors(job.kind, job.params, job.injected_params(), job.injected_reasons())]
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    @property
    def minutes(self) -> float:
        if self.duration_minutes is not None:
            return self.duration_minutes
        assert self.start is not None and self.end is not None
        a, b = parse_hhmm(self.start), parse_hhmm(self.end)
        m = (b.hour * 60 + b.minute) - (a.hour * 60 + a.minute)
        return float(m if m > 0 else m + 24 * 60)


class RetentionSettings(Strict):
    # Opt-in: thin old works after each window (rated, minted and collected works are always kept).
    enabled: bool = False
    # Works younger than this are never touched.
    keep_days: float = Field(30, gt=0)
    # Of the older, unprotected works, keep one in this many (by id); 1 keeps all, 0 is not allowed.
    keep_one_in: int = Field(4, ge=1)
    # Older than this (days), unprotected works are all removed; none: never.
    delete_after_days: float | None = Field(None, gt=0)
    # Keep works that have a rating.
    keep_rated: bool = True
    # Keep works in a collection or minted (always: those rows refer to them).
    keep_collected: bool = True


class ScheduleSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    # Windows of generation; empty: the scheduler has nothing to do.
    windows: list[Window] = Field(default_factory=list)
    # IANA time zone of window times ("Europe/London"); empty: the machine's local zone.
    timezone: str = ""
    # A window start missed by at most this many seconds (machine off, daemon down) still runs.
    misfire_grace_s: int = Field(3600, ge=1)
    # Several missed starts of one window run once, not once each.
    coalesce: bool = True
    # Default hard limit of one job (seconds); a job never runs past its window's end either.
    job_timeout_s: float = Field(3600, gt=0)
    # Seconds between SIGTERM and SIGKILL when a job is stopped.
    kill_grace_s: float = Field(10, ge=0)
    # How a job's process starts: "fork-server" forks it from a process that imported the programme's
    # modules once (fast; still one process per job), "fresh" starts a new interpreter per job (use it
    # if a job library is not safe to fork).
    worker_start: Literal["fork-server", "fresh"] = "fork-server"
    # Address-space limit of a worker in MB (a job that allocates more fails alone); none: no limit.
    worker_memory_mb: int | None = Field(None, ge=256)
    # torch (OpenMP/MKL) threads of one job (at most the core count); none: torch's default, one per core.
    # 1 is the safe choice on a small machine that does other work at night: spinning OpenMP threads
    # that share a busy core slow the many small ops of a VQGAN+CLIP loop down tenfold or more.
    worker_threads: int | None = Field(None, ge=1, le=256)
    # Stop generating when the data directory's disk has less free space than this (MB).
    min_free_disk_mb: int = Field(1024, ge=0)
    # Stop generating when the catalogue's media exceed this many MB; none: no limit.
    max_catalogue_mb: float | None = Field(None, gt=0)
    # Stop generating when the catalogue holds this many artworks; none: no limit.
    max_artworks: int | None = Field(None, ge=1)
    # Table of APScheduler's job store in the catalogue database.
    jobstore_table: str = "apscheduler_jobs"
    retention: RetentionSettings = RetentionSettings()

    @field_validator("timezone")
    @classmethod
    def _tz_ok(cls, v: str) -> str:
        if v:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (use an IANA name such as 'Europe/Paris')") from None
        return v

    @field_validator("jobstore_table")
    @classmethod
    def _table_ok(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_]\w{0,62}$", v):
            raise ValueError("must be a plain table name")
        return v

    @model_validator(mode="after")
    def _unique(self) -> ScheduleSettings:
        names = [w.name for w in self.windows]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"window names must be unique: {', '.join(dup)}")
        return self

    def window(self, name: str) -> Window:
        for w in self.windows:
            if w.name == name:
                return w
        raise KeyError(name)
