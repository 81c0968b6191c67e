"""Settings of a multi-screen installation: the ``show.sync`` section of config.yaml (docs/show.md
"Many screens, one clock"). Torch-free (imported with every config load)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gallery.settings_base import Strict

LAYOUTS = ("mirror", "span", "group")


def parse_address(v: str, key: str) -> tuple[str, int]:
    """'host:port' -> (host, port); ValueError naming ``key``."""
    host, sep, port = str(v).rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{key} {v!r}: give host:port (e.g. 192.168.1.10:8770)")
    return host.strip("[]"), int(port)


class ScreenSpec(Strict):
    """One screen (one show process) of the installation."""

    # Where this screen's sync service answers (UDP) when it leads: host:port reachable by the others.
    address: str
    # mirror: the same picture as every mirror screen; span: its part of one canvas across the span
    # screens; group: item `index` of each group of items (a triptych of a set).
    layout: Literal["mirror", "span", "group"] = "mirror"
    column: int = Field(0, ge=0, le=63)  # span: its place in the wall, 0 left
    row: int = Field(0, ge=0, le=63)  # span: 0 top
    index: int | None = Field(None, ge=0, le=63)  # group: which item of the group (default: its order)
    channel: Literal["both", "left", "right"] = "both"  # sound: "each": which channel of the sound it plays
    http_port: int | None = Field(None, ge=0, le=65535)  # its heartbeat / control port (null: show.http_port)

    @field_validator("address")
    @classmethod
    def _address(cls, v: str) -> str:
        parse_address(v, "address")
        return v


class CanvasSpec(Strict):
    """The span canvas: screens of one size in columns x rows, with the bezels between them."""

    columns: int = Field(1, ge=1, le=64)
    rows: int = Field(1, ge=1, le=64)
    # The gap between neighbouring pictures (frames of the screens or projector blend gaps), [horizontal, vertical]:
    # in pixels, or in millimetres with pixels_per_mm (the screens' pixel pitch); the picture behind it is hidden.
    bezel_px: tuple[int, int] = (0, 0)
    bezel_mm: tuple[float, float] | None = None
    pixels_per_mm: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _mm(self) -> CanvasSpec:
        if self.bezel_mm is not None and self.pixels_per_mm is None:
            raise ValueError("show.sync.canvas.bezel_mm needs show.sync.canvas.pixels_per_mm (the screens' pixels per mm)")
        if min(self.bezel_px) < 0 or (self.bezel_mm is not None and min(self.bezel_mm) < 0):
            raise ValueError("show.sync.canvas: a bezel cannot be negative")
        return self

    def bezel(self) -> tuple[int, int]:
        if self.bezel_mm is not None and self.pixels_per_mm is not None:
            return (round(self.bezel_mm[0] * self.pixels_per_mm), round(self.bezel_mm[1] * self.pixels_per_mm))
        return self.bezel_px


class SyncSettings(Strict):
    """show.sync: the screens, who leads, who takes over, who plays the sound, the clock's discipline."""

    screens: dict[str, ScreenSpec] = Field(default_factory=dict)
    leader: str = ""  # the screen that publishes the clock, the epoch and the programme
    successors: list[str] = Field(default_factory=list)  # take over in this order when the leader is silent
    sound: str = "none"  # a screen's name (that one plays the sound), "each" (every screen its channel) or "none"
    canvas: CanvasSpec = Field(default_factory=CanvasSpec)
    exchange_seconds: float = Field(0.2, gt=0.01, le=5.0)  # a follower's clock exchange every this many seconds
    window: int = Field(15, ge=3, le=200)  # exchanges the offset is the median of
    max_delay_ms: float = Field(50.0, gt=0)  # exchanges with a longer round trip are thrown away
    leader_timeout_s: float = Field(1.0, gt=0.05, le=60.0)  # no answer this long: the next address is tried
    change_lead_s: float = Field(2.0, ge=0.1, le=60.0)  # a programme change applies this far ahead, on every screen
    epoch: float | None = None  # shared time (unix s) the schedule counts from; null: local midnight of the day
    skew_ms: float = Field(0.0, ge=-60000, le=60000)  # tests: added to this node's clock (also GALLERY_SYNC_SKEW_MS)

    @model_validator(mode="after")
    def _names(self) -> SyncSettings:
        if not self.screens:
            return self
        names = ", ".join(self.screens)
        if self.leader not in self.screens:
            raise ValueError(f"show.sync.leader {self.leader!r}: not one of show.sync.screens ({names})")
        for s in self.successors:
            if s not in self.screens:
                raise ValueError(f"show.sync.successors: {s!r} is not one of show.sync.screens ({names})")
            if s == self.leader:
                raise ValueError(f"show.sync.successors: {s!r} is the leader already")
        if self.sound not in ("each", "none") and self.sound not in self.screens:
            raise ValueError(f"show.sync.sound {self.sound!r}: a screen of show.sync.screens ({names}), "
                             "'each' or 'none'")
        seen: dict[tuple[str, int], str] = {}
        spans: dict[tuple[int, int], str] = {}
        for name, sc in self.screens.items():
            host, port = parse_address(sc.address, f"show.sync.screens.{name}.address")
            if (host, port) in seen:
                raise ValueError(f"show.sync.screens.{name}.address {sc.address!r}: also "
                                 f"show.sync.screens.{seen[(host, port)]}'s")
            seen[(host, port)] = name
            if sc.layout == "span":
                if sc.column >= self.canvas.columns or sc.row >= self.canvas.rows:
                    raise ValueError(f"show.sync.screens.{name}: column {sc.column}, row {sc.row} is outside "
                                     f"show.sync.canvas ({self.canvas.columns} x {self.canvas.rows})")
                if (sc.column, sc.row) in spans:
                    raise ValueError(f"show.sync.screens.{name}: column {sc.column}, row {sc.row} is "
                                     f"show.sync.screens.{spans[(sc.column, sc.row)]}'s place too")
                spans[(sc.column, sc.row)] = name
        return self

    def addresses(self) -> list[tuple[str, tuple[str, int]]]:
        """(screen, (host, port)) of the leader, then the successors in order."""
        return [(n, parse_address(self.screens[n].address, n)) for n in (self.leader, *self.successors)]

    def group(self, screen: str) -> tuple[int, int]:
        """(this screen's index in the group, the group's size) for a group screen."""
        members = [n for n, s in self.screens.items() if s.layout == "group"]
        sc = self.screens[screen]
        n = len(members)
        idx = sc.index if sc.index is not None else members.index(screen)
        n = max(n, 1 + max((s.index or 0) for s in self.screens.values() if s.layout == "group"))
        return idx, n
