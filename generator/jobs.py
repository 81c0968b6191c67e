"""What a generation job is: a JSON-serialisable spec, and the context it runs in.

The kinds of job and their functions are in :mod:`generator.registry`; :func:`generator.run.execute_run`
runs a spec and adds what it made to the catalogue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from catalogue import ArtworkDraft, Catalogue
    from gallery.config import Settings

# Keys that older run rows and recipes kept in params; they are fields of the spec now.
MOVED_FROM_PARAMS = ("vary", "parents")


class JobSpec(BaseModel):
    """What to generate: a job kind, its parameters, and a seed (recorded in every recipe). ``vary``: the
    variation steps ``[{sigma, seed}, ...]`` to move the job's latents by; ``parents``: ``[[artwork id,
    relation], ...]`` of what it is made from."""

    model_config = ConfigDict(extra="forbid")
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    title: str | None = None
    vary: list[dict[str, Any]] = Field(default_factory=list)
    parents: list[list[Any]] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _legacy_params(cls, data: Any) -> Any:
        """``params.vary`` / ``params.parents`` (old queued runs and recipes) move to the spec's fields."""
        if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
            return data
        params = data["params"]
        moved = {k: params[k] for k in MOVED_FROM_PARAMS if k in params}
        if not moved:
            return data
        data = {**data, "params": {k: v for k, v in params.items() if k not in moved}}
        for k, v in moved.items():
            if k == "vary" and isinstance(v, dict):
                v = [v]  # a single step, as generator.variation.vary_steps reads it
            if v is not None and not data.get(k):
                data[k] = v
        return data


@dataclass
class JobContext:
    settings: Settings
    catalogue: Catalogue
    workdir: Path
    seed: int = 0  # the job's seed (execute_run sets it: the spec's, else this default)
    run_id: int | None = None
    deadline: float | None = None  # time.monotonic() value by which the job should finish
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("gallery.job"))
    # progress(stage, done, total=None, **figures) from gallery.progress; None on a daemon
    progress: Callable[..., None] | None = None
    vary: list[dict[str, Any]] = field(default_factory=list)  # the spec's variation steps [{sigma, seed}]
    parents: list[list[Any]] = field(default_factory=list)  # the spec's [[artwork id, relation], ...]

    @property
    def device(self):
        from gallery.device import select_device

        return select_device(self.settings.device)


def noop(params: dict[str, Any], ctx: JobContext) -> list[ArtworkDraft]:
    """A job that does nothing (measures scheduler and worker overhead)."""
    return []

