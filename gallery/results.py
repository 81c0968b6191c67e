"""What a generate command ends with: the job run under a progress display, then the files it made.

Every ``gallery generate …`` command runs its job through :func:`run_generate` and so prints the
same thing: each new artwork with its media as paths that carry their extension (the files view,
``<data_dir>/files/<id>/<role>.<ext>``, see :mod:`catalogue.files`). With ``--json`` it prints one
JSON object ``{"artworks": [ids], "files": [{"artwork", "role", "mime", "path"}, …]}`` and nothing
else on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from catalogue.models import Artwork, Media
    from gallery.config import Settings
    from gallery.state import AppState

FILES_DIR = "files"  # the files view, under data_dir
LIST_AT_MOST = 3  # a role with more media than this (frames) is printed as one line


def files_root(settings: Settings) -> Path:
    return settings.path(FILES_DIR)


def artwork_files(st: AppState, ids: list[int]) -> list[tuple[Any, list[tuple[Any, Path]]]]:
    """The artworks and their ``(media, path)`` in the files view (made or refreshed here)."""
    from catalogue.files import artwork_files as view

    out = []
    for i in ids:
        art = st.catalogue.get(i)
        if art is not None:
            out.append((art, view(st.catalogue, art, files_root(st.settings))))
    return out


def files_json(found: list[tuple[Any, list[tuple[Any, Path]]]]) -> list[dict[str, Any]]:
    return [{"artwork": art.id, "role": m.role, "mime": m.mime, "path": str(p)} for art, files in found
            for m, p in files]


def describe(art: Artwork, files: list[tuple[Media, Path]]) -> list[str]:
    """Lines for one artwork: a heading, then ``role  path`` (roles with many media on one line)."""
    dur = f" ({art.duration:.1f} s)" if getattr(art, "duration", None) else ""
    lines = [f"{art.kind} artwork {art.id}: {art.title}{dur}"]
    by_role: dict[str, list[Path]] = {}
    for m, p in files:
        by_role.setdefault(m.role, []).append(p)
    width = max((len(r) for r in by_role), default=0)
    for role, paths in by_role.items():
        if len(paths) <= LIST_AT_MOST:
            lines += [f"  {role:<{width}}  {p}" for p in paths]
        else:
            lines.append(f"  {role:<{width}}  {len(paths)} files: {paths[0]} … {paths[-1].name}")
    return lines


def print_artworks(st: AppState, ids: list[int], as_json: bool, extra: dict[str, Any] | None = None) -> None:
    found = artwork_files(st, ids)
    if as_json:
        typer.echo(json.dumps({"artworks": ids, "files": files_json(found), **(extra or {})}))
        return
    if not ids:
        typer.echo("no artworks were made")
    for art, files in found:
        typer.echo("\n".join(describe(art, files)))
