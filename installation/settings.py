"""Settings of the installation (the show): the `show` section of config.yaml.

Torch-free on purpose: gallery.config imports every section at start.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from catalogue.models import ARTWORK_KINDS
from gallery.settings_base import Strict
from installation.programme_settings import (
    TRANSITIONS,  # noqa: F401 - re-exported: where the show's transitions were always imported from
    WEEKDAYS,
    ProgrammeSpec,
    TimetableEntry,
    check_programmes,
    check_transitions,
    parse_span,
)
from installation.sync_settings import SyncSettings


class ShowSettings(Strict):
    """Keys of this section; each one is documented in config.yaml too."""

    # How often each kind is drawn, relative to the others (0 = never). Kinds not listed get 1.
    weights: dict[str, float] = Field(default_factory=lambda: {"walk": 2.0, "progression": 2.0})
    # Seconds on screen for still kinds (time-based works play their own length, capped below).
    durations: dict[str, float] = Field(default_factory=lambda: {"image": 12.0, "mix": 12.0, "projection": 12.0,
                                                                   "bend": 12.0, "soundscape": 20.0,
                                                                   "melody": 20.0})
    default_duration: float = Field(12.0, gt=0.5)
    max_item_seconds: float = Field(180.0, gt=1.0)
    # Opening hours per weekday (mon..sun): a list of "HH:MM-HH:MM"; [] = closed all day; a day
    # not listed is open all day. Times are local to `timezone`.
    opening_hours: dict[str, list[str]] = Field(default_factory=dict)
    timezone: str = "UTC"
    # Outside opening hours: "dim" (a very dark screen with a small note) or "blank" (black).
    closed_screen: Literal["dim", "blank"] = "dim"
    # Works created within this many hours (last night's) are shown first, newest first, once each.
    fresh_hours: float = Field(14.0, ge=0)
    # No artwork repeats within this many items (relaxed when the catalogue has fewer works).
    no_repeat: int = Field(8, ge=0)
    # Re-read the catalogue this often (new works join without a restart), seconds.
    refresh_seconds: float = Field(30.0, gt=0)
    # After a failed catalogue read, retry after this many seconds (keep showing what is known).
    retry_seconds: float = Field(5.0, gt=0)
    fit: Literal["cover", "contain"] = "contain"
    transitions: list[str] = Field(default_factory=lambda: ["crossfade", "wipe", "dissolve"])
    transition_seconds: float = Field(1.5, ge=0)
    # Museum label (title, kind, date, recipe summary): shown, seconds it stays, fade seconds.
    label: bool = True
    label_seconds: float = Field(6.0, ge=0)
    label_fade: float = Field(0.8, ge=0)
    # Output: size of the drawing surface (fullscreen uses the display's size), frame rate.
    width: int = Field(1920, ge=16, le=7680)
    height: int = Field(1080, ge=16, le=4320)
    fps: float = Field(30.0, gt=0, le=240)
    fullscreen: bool = True
    display: int = Field(0, ge=0)
    # Audio: mixer rate, master volume 0..1, fade seconds at the end of a sound.
    sample_rate: int = Field(44100, ge=8000, le=192000)
    volume: float = Field(0.9, ge=0, le=1)
    audio_fade: float = Field(0.5, ge=0)
    # Heartbeat: status file (under data_dir) and the local HTTP endpoint (0 = off).
    status_file: str = "show/status.json"
    http_port: int = Field(8766, ge=0, le=65535)
    heartbeat_seconds: float = Field(2.0, gt=0)
    # Quarantine the media of works whose files are broken (else: skip them for this run only).
    quarantine_broken: bool = True
    seed: int | None = None
    # ---- programmes (issue 23): what plays when; see docs/show.md "Programmes and timetable" ----
    # name -> {set | query | since, order, seed, still_seconds, sound_seconds, transitions}
    programmes: dict[str, ProgrammeSpec] = Field(default_factory=dict)
    # Weekly entries {days, from, to, programme} inside the opening hours; they must not overlap.
    timetable: list[TimetableEntry] = Field(default_factory=list)
    # The programme when no timetable entry applies ("all": every work, weighted by kind).
    programme: str = "all"

    # ---- remote control (issue 23, docs/show.md "Remote control") ----
    # Address of the HTTP endpoint (heartbeat + control API) on show.http_port. Beyond loopback every
    # client but a loopback one needs the token named by token_env (the show refuses to start without one).
    control_host: str = "127.0.0.1"
    # NAME of the environment variable holding the control API's access token (never the token itself).
    token_env: str = "GALLERY_SHOW_TOKEN"

    @field_validator("control_host")
    @classmethod
    def _control_host(cls, v: str) -> str:
        import ipaddress

        v = v.strip()
        try:
            ipaddress.ip_address(v)
        except ValueError:
            if not v or len(v) > 253 or not all(p and p.replace("-", "").isalnum() for p in v.split(".")):
                raise ValueError(f"show.control_host {v!r}: an IP address (127.0.0.1, 0.0.0.0, ::1) or a "
                                 "host name") from None
        return v

    @field_validator("token_env")
    @classmethod
    def _token_env(cls, v: str) -> str:
        if not v or not v.replace("_", "").isalnum() or not v.isascii():
            raise ValueError(f"show.token_env {v!r}: must be an environment variable name (letters, digits, "
                             "underscores)")
        return v

    # ---- sound (issue 23: loudness, crossfades; docs/show.md "Sound") ----
    # Every sound plays at this EBU R128 integrated loudness, LUFS (at volume 1); null = each at its own level.
    loudness_target: float | None = Field(-23.0, ge=-60.0, le=-5.0)
    # After the gain no sample goes above this, dBFS (a look-ahead limiter holds the peaks under it).
    loudness_ceiling: float = Field(-1.0, ge=-20.0, le=0.0)
    # Measured loudness per sound (by sha256), a small JSON file under data_dir; "" = kept in memory only.
    loudness_cache: str = "show/loudness.json"
    # Seconds the outgoing sound fades out while the incoming one fades in; null = transition_seconds.
    audio_crossfade: float | None = Field(None, ge=0.0)
    # ---- many screens, one clock (issue 27, docs/show.md "Many screens, one clock") ----
    sync: SyncSettings = Field(default_factory=SyncSettings)

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        for k, w in v.items():
            if k not in ARTWORK_KINDS:
                raise ValueError(f"show.weights: unknown kind {k!r} (known: {', '.join(ARTWORK_KINDS)})")
            if w < 0:
                raise ValueError(f"show.weights.{k} = {w}: weights cannot be negative")
        return v

    @field_validator("durations")
    @classmethod
    def _durations(cls, v: dict[str, float]) -> dict[str, float]:
        for k, d in v.items():
            if k not in ARTWORK_KINDS:
                raise ValueError(f"show.durations: unknown kind {k!r} (known: {', '.join(ARTWORK_KINDS)})")
            if d <= 0.5:
                raise ValueError(f"show.durations.{k} = {d}: an item needs more than 0.5 s on screen")
        return v

    @field_validator("opening_hours")
    @classmethod
    def _hours(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, spans in v.items():
            if day not in WEEKDAYS:
                raise ValueError(f"show.opening_hours: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            for s in spans:
                parse_span(s)
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"show.timezone: unknown time zone {v!r} (e.g. Europe/London, UTC)") from e
        return v

    @field_validator("transitions")
    @classmethod
    def _transitions(cls, v: list[str]) -> list[str]:
        return check_transitions(v, "show.transitions")

    @model_validator(mode="after")
    def _transition_fits(self) -> ShowSettings:
        shortest = min([self.default_duration, *self.durations.values()])
        if self.transition_seconds * 2 > shortest:
            raise ValueError(f"show.transition_seconds = {self.transition_seconds}: must be at most half the "
                             f"shortest duration ({shortest} s)")
        return self

    @model_validator(mode="after")
    def _programmes(self) -> ShowSettings:
        check_programmes(self.programmes, self.timetable, self.programme, self.opening_hours,
                         self.transition_seconds)
        return self

    @model_validator(mode="after")
    def _crossfade_fits(self) -> ShowSettings:
        shortest = min([self.default_duration, *self.durations.values()])
        if self.audio_crossfade is not None and self.audio_crossfade * 2 > shortest:
            raise ValueError(f"show.audio_crossfade = {self.audio_crossfade}: must be at most half the shortest "
                             f"duration ({shortest} s)")
        return self
