"""Export a set as a folder or a zip: its media, a JSON manifest with the recipes, a contact sheet PNG.

Written to a temporary sibling first and renamed, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import json
import mimetypes
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import select

from catalogue.models import Lineage
from curation import sets
from curation.features import decode_image
from curation.indexer import visual_media
from curation.search import feature_table
from gallery.errors import BadInput, GalleryError

SKIP_ROLES = ("frame",)  # per-iteration frames stay in the catalogue; the video/poster carry the work
EXT = {"image/png": ".png", "video/mp4": ".mp4", "audio/wav": ".wav", "audio/x-wav": ".wav",
       "audio/midi": ".mid", "audio/x-midi": ".mid", "image/jpeg": ".jpg"}


def _ext(mime: str) -> str:
    return EXT.get(mime) or mimetypes.guess_extension(mime) or ".bin"


def contact_sheet(cells: list[tuple[np.ndarray | None, str]], cols: int = 4, cell: int = 160,
                  title: str = "") -> np.ndarray:
    """A grid of thumbnails with captions (RGB uint8); a missing image is drawn as a grey cell."""
    n = max(1, len(cells))
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    pad, cap, head = 8, 18, 28 if title else 0
    w = cols * (cell + pad) + pad
    h = head + rows * (cell + cap + pad) + pad
    sheet = np.full((h, w, 3), 245, np.uint8)
    if title:
        cv2.putText(sheet, title[:80], (pad, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    for i, (img, caption) in enumerate(cells):
        r, c = divmod(i, cols)
        x0, y0 = pad + c * (cell + pad), head + pad + r * (cell + cap + pad)
        if img is None:
            sheet[y0:y0 + cell, x0:x0 + cell] = 200
        else:
            ih, iw = img.shape[:2]
            s = cell / max(ih, iw)
            im = cv2.resize(img, (max(1, round(iw * s)), max(1, round(ih * s))), interpolation=cv2.INTER_AREA)
            oy, ox = (cell - im.shape[0]) // 2, (cell - im.shape[1]) // 2
            sheet[y0 + oy:y0 + oy + im.shape[0], x0 + ox:x0 + ox + im.shape[1]] = im
        cv2.putText(sheet, caption[:24], (x0, y0 + cell + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (40, 40, 40), 1,
                    cv2.LINE_AA)
    return sheet


def manifest(cat: Any, cid: int) -> dict[str, Any]:
    c = sets.show(cat, cid)
    ids = [it.artwork_id for it in sorted(c.items, key=lambda it: it.position)]
    feats = feature_table(cat, ids)
    with cat.read() as s:
        parents: dict[int, list[dict[str, Any]]] = {}
        for ch, p, rel in s.execute(select(Lineage.child_id, Lineage.parent_id, Lineage.relation)
                                    .where(Lineage.child_id.in_(ids))):
            parents.setdefault(ch, []).append({"artwork": p, "relation": rel})
    items = []
    for pos, aid in enumerate(ids):
        a = cat.get(aid)
        items.append({"position": pos, "artwork": aid, "kind": a.kind, "title": a.title,
                      # the wall text a curator wrote ("" / null where not written)
                      "artist": a.artist or "", "year": a.year, "medium": a.medium or "", "wall_text": a.wall_text or "",
                      "created": a.created.isoformat(), "rating": a.rating, "tags": sorted(t.name for t in a.tags),
                      "duration": a.duration, "recipe": a.recipe, "features": feats.get(aid, {}),
                      "parents": sorted(parents.get(aid, []), key=lambda d: (d["artwork"], d["relation"])),
                      "media": []})
    return {"format": "latent-gallery-set/1", "set": sets.as_dict(c), "items": items}


def export_set(cat: Any, cid: int, dest: Path, as_zip: bool = False, overwrite: bool = False) -> Path:
    """Write the set to ``dest`` (a folder, or a .zip file with ``as_zip``); returns the path written."""
    dest = Path(dest)
    if as_zip and dest.suffix != ".zip":
        dest = dest.with_suffix(".zip")
    if dest.exists() and not overwrite:
        raise BadInput(f"{dest} already exists (use --overwrite to replace it)")
    man = manifest(cat, cid)
    if not man["items"]:
        raise BadInput(f"set {cid} is empty: nothing to export")
    made = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]  # folders we create
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=dest.parent))
    ztmp = dest.with_name(dest.name + ".tmp")
    done = False
    try:
        cells = []
        (tmp / "media").mkdir()
        for item in man["items"]:
            a = cat.get(item["artwork"])
            for m in a.media:
                if m.role in SKIP_ROLES:
                    continue
                src = cat.media_path(m)
                if not src.is_file():
                    raise GalleryError(f"artwork {a.id}: {m.role} blob {m.sha256[:12]} is missing from the store "
                                       "(run `gallery catalogue verify`)")
                name = f"{item['position']:03d}-{a.id}-{m.role}-{m.position}{_ext(m.mime)}"
                shutil.copyfile(src, tmp / "media" / name)
                item["media"].append({"role": m.role, "file": f"media/{name}", "sha256": m.sha256, "mime": m.mime,
                                      "width": m.width, "height": m.height, "duration": m.duration})
            vm = visual_media(a)
            img = None
            if vm is not None:
                try:
                    img = decode_image(cat.media_path(vm))
                except BadInput:
                    img = None
            cells.append((img, f"{item['position'] + 1}. #{a.id} {a.title}"))
        sheet = contact_sheet(cells, title=man["set"]["title"])
        ok, buf = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        if not ok:
            raise GalleryError("could not encode the contact sheet PNG")
        (tmp / "contact_sheet.png").write_bytes(buf.tobytes())
        man["contact_sheet"] = "contact_sheet.png"
        (tmp / "manifest.json").write_text(json.dumps(man, indent=2, ensure_ascii=False, default=str))
        if as_zip:
            with zipfile.ZipFile(ztmp, "w", zipfile.ZIP_DEFLATED) as z:
                for p in sorted(tmp.rglob("*")):
                    if p.is_file():
                        z.write(p, p.relative_to(tmp).as_posix())
            if dest.exists():
                dest.unlink()
            os.replace(ztmp, dest)
        else:
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        done = True
    finally:
        # A failed export leaves nothing behind: no temp folder, no half zip, no folder it made.
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if as_zip and ztmp.exists():
            ztmp.unlink(missing_ok=True)
        if not done:
            for d in made:  # innermost first; only if still empty
                try:
                    d.rmdir()
                except OSError:
                    break
    return dest
