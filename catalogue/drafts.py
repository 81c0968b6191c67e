"""What a generator hands the catalogue: an artwork draft with its media and recipe."""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass
class MediaDraft:
    """One media file of a draft: either ``data`` (bytes) or ``path`` (a file to copy in)."""

    role: str
    mime: str
    data: bytes | None = None
    path: Path | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"media draft {self.role!r}: give exactly one of data or path")
        if self.path is not None:
            self.path = Path(self.path)

    @classmethod
    def from_file(cls, role: str, path: Path | str, **kw: Any) -> MediaDraft:
        path = Path(path)
        mime = kw.pop("mime", None) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(role=role, mime=mime, path=path, **kw)


@dataclass
class ArtworkDraft:
    kind: str
    recipe: dict[str, Any]
    media: list[MediaDraft] = field(default_factory=list)
    title: str = ""
    model_sha256: str | None = None
    tags: list[str] = field(default_factory=list)
    parents: list[tuple[int, str]] = field(default_factory=list)  # (artwork id, relation)
    features: dict[str, float | list[float]] = field(default_factory=dict)
    duration: float | None = None
    status: str = "ok"
    run_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    created: datetime | None = None  # defaults to now (UTC); set when importing older works
    # A sound artwork paired to a visual one: (visual artwork id, shared timeline).
    pair_with: tuple[int, dict[str, Any]] | None = None


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def fingerprint(draft: ArtworkDraft, media_shas: list[str]) -> str:
    """Identity of a draft: kind, recipe, model and the media (role + content hash) in order."""
    ident = {
        "kind": draft.kind,
        "recipe": draft.recipe,
        "model": draft.model_sha256,
        "media": [[m.role, sha] for m, sha in zip(draft.media, media_shas, strict=True)],
    }
    return hashlib.sha256(canonical_json(ident).encode()).hexdigest()
