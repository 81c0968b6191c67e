"""One command dispatcher for the show: staff keys, the HTTP control API and scripted runs.

Every way of directing the show becomes a :class:`Command` handed to a :class:`Dispatcher` (a
thread-safe queue). The render loop drains it once per frame through :class:`Controller`, which
applies each command on the render thread (so the show itself needs no locks) and tells the waiting
caller when it has taken effect: ``next`` / ``previous`` when the new item's first frame has been
drawn, the others as soon as they are applied.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gallery.errors import BadInput

# Commands and what they take: programme takes a name (None = back to the timetable).
COMMANDS = ("next", "previous", "pause", "resume", "toggle_pause", "label", "help", "programme", "reload", "quit")
REMOTE_COMMANDS = ("next", "previous", "pause", "resume", "programme", "reload")  # over HTTP
# Staff keys (pygame key names, as pygame.key.name gives them) -> commands.
KEY_COMMANDS = {"right": "next", "n": "next", "left": "previous", "p": "previous", "space": "toggle_pause",
                "l": "label", "h": "help", "f1": "help", "q": "quit", "escape": "quit"}
HELP_LINES = ("Staff keys", "Right or N: next work", "Left or P: previous work", "Space: pause / resume",
              "L: label on / off", "H or F1: this help on / off", "Q or Esc twice: quit the show")
QUIT_CONFIRM_SECONDS = 4.0


class NotAvailable(Exception):
    """The show cannot do this (a command its build does not have)."""


@dataclass
class Command:
    name: str
    arg: Any = None
    source: str = "key"  # key | http | script
    submitted: float = field(default_factory=time.monotonic)
    taken: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None
    result: dict[str, Any] | None = None
    note: str | None = None  # what happened, for the answer ("nothing before this item")
    applied_at: float | None = None
    completed_at: float | None = None
    _cancelled: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wait_items: int | None = None  # done once the show has started more items than this

    def claim(self) -> bool:
        """The render loop takes the command (False: its caller gave up waiting; drop it)."""
        with self._lock:
            if self._cancelled:
                return False
            self.taken.set()
            return True

    def cancel(self) -> bool:
        """The caller gives up before the render loop took it (True: it will never be applied)."""
        with self._lock:
            if self.taken.is_set():
                return False
            self._cancelled = True
            return True


class Dispatcher:
    """Commands from any thread to the render loop."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def submit(self, name: str, arg: Any = None, source: str = "http") -> Command:
        if name not in COMMANDS:
            raise BadInput(f"unknown command {name!r} (known: {', '.join(COMMANDS)})")
        cmd = Command(name, arg, source)
        self._q.put(cmd)
        return cmd

    def take(self) -> list[Command]:
        out = []
        while True:
            try:
                cmd = self._q.get_nowait()
            except queue.Empty:
                return out
            if cmd.claim():
                out.append(cmd)


class Controller:
    """Applies commands to a Show on the render thread; owns pause (paused show time) and the overlays.

    ``show_time(raw)`` maps the loop's clock (seconds since start) to show time, which stands still
    while paused. Call :meth:`step` before each frame and :meth:`after_frame` after it is on screen.
    """

    def __init__(self, show: Any, audio: Any, dispatcher: Dispatcher | None = None,
                 status: Callable[[], dict[str, Any]] | None = None,
                 on_change: Callable[[dict[str, Any]], None] | None = None,
                 on_error: Callable[[Command], None] | None = None) -> None:
        self.show, self.audio = show, audio
        self.dispatcher = dispatcher or Dispatcher()
        self.status = status or show.status
        self.on_change = on_change
        self.on_error = on_error
        self.paused_at: float | None = None
        self.paused_total = 0.0
        self.help_on = False
        self.quit_armed: float | None = None
        self._overlay: object = None  # the persistent message we put up (help / "Paused")
        self._waiting: list[Command] = []
        self.applied: list[Command] = []  # the last 50 applied, for tests and the bench

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def show_time(self, raw: float) -> float:
        return (self.paused_at if self.paused_at is not None else raw) - self.paused_total

    def submit(self, name: str, arg: Any = None, source: str = "key") -> Command:
        return self.dispatcher.submit(name, arg, source)

    # ---- before a frame ------------------------------------------------------------------------
    def step(self, raw: float) -> tuple[float, bool]:
        """Apply what is queued; returns (show time for this frame, quit requested)."""
        stop = False
        for cmd in self.dispatcher.take():
            t = self.show_time(raw)
            try:
                stop = self._apply(cmd, raw, t) or stop
            except Exception as e:  # noqa: BLE001 - a bad command is answered; the show goes on
                cmd.error = e
                if self.on_error is not None:
                    self.on_error(cmd)
            cmd.applied_at = time.monotonic()
            self.applied.append(cmd)
            del self.applied[:-50]
            if cmd.error is not None or cmd._wait_items is None:
                self._complete(cmd)
            else:
                self._waiting.append(cmd)
        self._overlays(self.show_time(raw))
        return self.show_time(raw), stop

    def _apply(self, cmd: Command, raw: float, t: float) -> bool:
        s, name = self.show, cmd.name
        if name == "toggle_pause":
            name = "resume" if self.paused else "pause"
        if name in ("next", "previous"):
            if self.paused:  # a skip plays on: the new work is seen, not frozen mid-transition
                self._resume(raw)
                t = self.show_time(raw)
            before = s.items_started
            if name == "next":
                s.next_item()
            else:
                s.previous_item(t)
            if getattr(s, "_skip", True):
                cmd._wait_items = before
            else:
                cmd.note = "nothing before this item"
        elif name == "pause":
            if not self.paused:
                self.paused_at = raw
                self.audio.pause()
                s.paused = True
            else:
                cmd.note = "already paused"
        elif name == "resume":
            if self.paused:
                self._resume(raw)
            else:
                cmd.note = "not paused"
        elif name == "label":
            s.toggle_label()
        elif name == "help":
            self.help_on = not self.help_on
        elif name == "programme":
            fn = getattr(s, "switch_programme", None)
            if fn is None:
                raise NotAvailable("this show has no programmes")
            fn(cmd.arg)
        elif name == "reload":
            fn = getattr(s, "reload_works", None)
            if fn is None:
                raise NotAvailable("this show cannot reload its works")
            fn()
        elif name == "quit":
            mono = time.monotonic()
            if self.quit_armed is not None and mono - self.quit_armed < QUIT_CONFIRM_SECONDS:
                return True
            self.quit_armed = mono
            s.say("Press Q again to quit the show", t, QUIT_CONFIRM_SECONDS)
        return False

    def _resume(self, raw: float) -> None:
        assert self.paused_at is not None
        self.paused_total += raw - self.paused_at
        self.paused_at = None
        self.audio.resume()
        self.show.paused = False

    def _overlays(self, t: float) -> None:
        """Keep the help card, else the "Paused" card, on screen; take ours down when neither is wanted."""
        want: object = HELP_LINES if self.help_on else ("Paused" if self.paused else None)
        msg = self.show.message
        if want is not None:
            if msg is None or (msg[0] == self._overlay and msg[0] != want):
                self.show.say(want, t, 1e9)
            self._overlay = want
        elif self._overlay is not None:
            if msg is not None and msg[0] == self._overlay:
                self.show.message = None
            self._overlay = None

    # ---- after a frame -------------------------------------------------------------------------
    def after_frame(self) -> None:
        """A frame is on screen: answer the skips whose new item it shows."""
        if not self._waiting:
            return
        started = self.show.items_started
        ready = [c for c in self._waiting if c._wait_items is not None and started > c._wait_items]
        if ready:
            self._waiting = [c for c in self._waiting if c not in ready]
            for c in ready:
                self._complete(c)

    def _complete(self, cmd: Command) -> None:
        cmd.completed_at = time.monotonic()
        try:
            cmd.result = self.status()
        except Exception as e:  # noqa: BLE001 - the answer goes without a status rather than not at all
            cmd.result = {"status_error": f"{type(e).__name__}: {e}"}
        cmd.done.set()  # answer first; the heartbeat's refresh (a status file, sensors) follows
        if self.on_change is not None:
            self.on_change(cmd.result)

    def close(self) -> None:
        """Release every waiting caller (the show is stopping)."""
        for c in self._waiting + self.dispatcher.take():
            c.error = c.error or NotAvailable("the show stopped")
            c.done.set()
        self._waiting = []
