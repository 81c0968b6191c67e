"""Media under names people and programs recognise: ``<root>/<artwork id>/<role>.<ext>``.

The blobs stay content-addressed and extension-less (``media/sha256/ab/cdef…``: what the catalogue,
gc, verify and the show rely on). For people, the *files view* adds a folder per artwork (by
default ``<data_dir>/files/<id>/``) of symbolic links named after the media's role with the extension
of its mime type (``video.mp4``, ``poster.png``, ``frame-03.png``), made when a command prints where
an artwork's files are; :func:`export_artwork` copies the same names into any folder.

Links are relative (the data_dir can move as a whole) and replaced atomically; where the file system
refuses symbolic links, hard links, then copies, are used. A link whose blob is gone (quarantined,
collected) dangles, honestly, until the next :func:`artwork_files` call rebuilds the folder.
"""

from __future__ import annotations

import mimetypes
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The extensions of the mime types the gallery writes (the mimetypes table varies between systems).
EXTENSIONS = {
    "image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/x-matroska": ".mkv",
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/flac": ".flac", "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3", "audio/midi": ".mid", "audio/x-midi": ".mid",
    "application/json": ".json", "text/plain": ".txt", "application/octet-stream": ".bin",
}


def media_ext(mime: str | None) -> str:
    """The file extension (with its dot) of a mime type; ``.bin`` when it has none."""
    m = (mime or "").split(";")[0].strip().lower()
    return EXTENSIONS.get(m) or mimetypes.guess_extension(m) or ".bin"


def _safe_role(role: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_" else "-" for c in role.strip())
    return keep.strip("-") or "media"


def media_names(media: Sequence[Any]) -> list[str]:
    """File names of an artwork's media, in order: ``<role><ext>``, or ``<role>-NN<ext>`` where a role
    occurs more than once (numbered in media order from 00)."""
    roles = [_safe_role(m.role) for m in media]
    counts = {r: roles.count(r) for r in roles}
    seen: dict[str, int] = {}
    names = []
    for m, r in zip(media, roles, strict=True):
        if counts[r] > 1:
            k = seen.get(r, 0)
            seen[r] = k + 1
            width = max(2, len(str(counts[r] - 1)))
            names.append(f"{r}-{k:0{width}d}{media_ext(m.mime)}")
        else:
            names.append(f"{r}{media_ext(m.mime)}")
    return names


def _place(src: Path, dst: Path) -> None:
    """Make ``dst`` refer to ``src`` (symbolic link, else hard link, else copy), replacing atomically."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    try:
        os.symlink(os.path.relpath(src, dst.parent), tmp)
    except (OSError, NotImplementedError, ValueError):
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _points_to(link: Path, src: Path) -> bool:
    try:
        if link.is_symlink():
            return (link.parent / os.readlink(link)).resolve() == src.resolve()
        return link.is_file() and os.path.samefile(link, src)
    except OSError:
        return False


def artwork_files(cat: Any, artwork: Any, root: Path) -> list[tuple[Any, Path]]:
    """Make (or refresh) ``<root>/<artwork id>/`` and return ``(media, path)`` for every media row.

    Entries of that folder that are not the artwork's current media are removed (a catalogue made
    again from scratch reuses ids)."""
    folder = Path(root) / str(artwork.id)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    wanted = set()
    for m, name in zip(artwork.media, media_names(artwork.media), strict=True):
        dst = folder / name
        wanted.add(name)
        src = cat.media_path(m)
        if not _points_to(dst, src):
            if src.is_file():
                _place(src, dst)
            elif dst.is_symlink() or dst.exists():
                dst.unlink()  # the blob is gone: no stale file under this name
        out.append((m, dst))
    for entry in folder.iterdir():
        if entry.name not in wanted and (entry.is_symlink() or entry.is_file()):
            entry.unlink()
    return out


def export_artwork(cat: Any, artwork: Any, dest: Path, prefix: str | None = None) -> list[Path]:
    """Copy an artwork's media into ``dest`` as ``<prefix><role><ext>`` (prefix default ``<id>-``);
    an existing file of that name is replaced. Returns the paths written."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    prefix = f"{artwork.id}-" if prefix is None else prefix
    written = []
    for m, name in zip(artwork.media, media_names(artwork.media), strict=True):
        src = cat.media_path(m)
        if not src.is_file():
            raise FileNotFoundError(f"artwork {artwork.id}: the {m.role} blob {m.sha256[:12]}… is missing "
                                    "(`gallery catalogue verify` names what is missing)")
        out = dest / f"{prefix}{name}"
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, out)
        written.append(out)
    return written
