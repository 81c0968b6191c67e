"""The show's programme controls (a part of installation.show.Show, kept apart to keep show.py short).

``switch_programme``, ``programme_names`` and ``reload_works`` are what the staff keys and the remote
control call; the rest is how the show reads the members of set and query programmes on its catalogue
thread and drops an item decoded ahead when the programme changes before it was shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from installation.programme import Entry, Programme
from installation.programmes import Programmes


class ProgrammeControls:
    source: Any
    catalogue: Any
    programme: Programme
    programmes: Programmes
    pending: Any
    pending_id: int | None
    _t: float
    _chosen_from: str

    if TYPE_CHECKING:  # provided by installation.show.Show, which this class is a part of
        def wall(self, t: float) -> datetime: ...

        def _discard(self, fut: Any) -> None: ...

    def _read(self, t: float) -> tuple[list[Entry], tuple[dict, dict]]:
        """On the catalogue thread: the works, and the members of the set / query programmes in play."""
        entries = self.source.refresh(t)
        cat = getattr(self.source, "catalogue", None) or self.catalogue
        return entries, self.programmes.resolve(cat, self.programmes.wanted(self.wall(t)))

    # ---- programmes ------------------------------------------------------------------------------------
    def programme_names(self) -> list[str]:
        return self.programmes.names()

    def switch_programme(self, name: str | None) -> None:
        """Play programme ``name`` from the next item on (None: back to the timetable / default)."""
        self.programmes.switch(name)  # BadInput for an unknown name
        if self.source is not None and self.programmes.needs_read(self.programmes.active(self.wall(self._t))):
            self.source.next_read = 0.0

    def reload_works(self) -> None:
        """Re-read the catalogue (works, sets, queries) at the next frame."""
        if self.source is not None:
            self.source.next_read = 0.0

    def _drop_pending(self) -> None:
        """Forget the item decoded ahead (it was never shown); the next one is chosen afresh."""
        if self.pending is not None:
            self._discard(self.pending)
            self.pending = None
            if self.programme.history and self.programme.history[-1] == self.pending_id:
                self.programme.history.pop()
            self.pending_id = None

    def _choose(self, pool: list[Entry], now: datetime) -> Entry | None:
        self._chosen_from, e = self.programmes.choose(pool, now)
        return e
