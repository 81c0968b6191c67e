"""``gallery dataset images``: an artist's folder of pictures -> a square image dataset training streams from.

Each JPEG/PNG/WebP under the folder (recursively, in sorted path order, so a build is reproducible) goes
through the one image reader (``gallery.media.read_image``: header checked against
``media.max_image_pixels`` before a pixel is decoded, truncated or mislabelled files refused), transparent
pictures composited over the background colour, then:

- **too small** (the side the fit needs is shorter than the resolution): dropped, or with
  ``allow_upscale`` kept, upscaled, and named in a warning;
- **fit**: ``crop`` takes the centred square, ``pad`` fits the whole picture in a square of the background
  colour; the resize is Pillow's Lanczos (antialiased: its kernel widens with the reduction);
- **exact duplicate**: the same decoded pixels (sha256 of the pixels and their shape) as an earlier file;
- **near duplicate**: a resized or re-encoded copy of an earlier kept picture: the perceptual hashes
  (``imagehash.phash``, 64 bits, of the fitted image) differ in at most ``NEAR_BITS`` bits *and* no cell
  of the two 8x8 colour thumbnails differs by more than ``NEAR_CELL`` (0..255). pHash alone sees only
  luminance: on the emoji, flags of different countries with the same layout share a hash exactly; a
  mean colour difference cannot tell a re-encoded copy (small differences everywhere) from a skin-tone
  variant (one large difference in a few cells); the largest cell difference can. The thresholds were
  measured on copies of the emoji and of synthetic pictures (docs/datasets.md).

The kept images are appended to ``images.u8`` in a scratch folder ``<root>/.tmp-<name>-*`` (owned by this
process; ``gallery catalogue gc`` removes one a killed build left), which is renamed to ``<root>/<name>``
only when complete; the catalogue row follows. Any failure or Ctrl-C before then leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gallery.errors import BadInput
from gallery.media import DEFAULTS, BadMedia, MediaTooLarge, probe_image, read_image
from generator.datasets.image_store import (
    DATA_FILE,
    FORMAT_VERSION,
    INDEX_FILE,
    SHEET_FILE,
    contact_sheet,
    sheet_picks,
)

log = logging.getLogger(__name__)

RESOLUTIONS = (64, 128, 256, 512, 1024)
FITS = ("crop", "pad")
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
NEAR_BITS = 10  # pHash Hamming distance (of 64 bits) at or under which two pictures may be copies
NEAR_CELL = 16.0  # and the largest difference between cells of their 8x8 RGB thumbnails (0..255) for a copy
REASONS = ("unreadable", "too_large", "too_small", "duplicate", "near_duplicate")
VERSION = 1


@dataclass
class Dropped:
    file: str  # relative to the source folder
    reason: str  # one of REASONS
    detail: str = ""
    of: str | None = None  # for duplicates: the kept file it repeats


@dataclass
class BuildResult:
    name: str
    folder: Path  # the dataset folder (renamed into place)
    source: str
    resolution: int
    fit: str
    kept: list[str]
    dropped: list[Dropped]
    upscaled: list[str]
    data_sha256: str
    seconds: float
    ignored: int = 0  # files under the folder that are not JPEG/PNG/WebP by their suffix
    extra: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        c = dict.fromkeys(REASONS, 0)
        for d in self.dropped:
            c[d.reason] += 1
        return {"files": len(self.kept) + len(self.dropped), "kept": len(self.kept), "upscaled": len(self.upscaled),
                **{f"dropped_{r}": n for r, n in c.items()}, "ignored_other_files": self.ignored}

    def provenance(self) -> dict[str, Any]:
        return {"source": self.source, "resolution": self.resolution, "fit": self.fit, "counts": self.counts(),
                "near_duplicates": {"phash_bits": NEAR_BITS, "thumbnail_8x8_cell": NEAR_CELL},
                "dropped": [d.__dict__ for d in self.dropped], "upscaled": self.upscaled,
                "contact_sheet": SHEET_FILE, "builder": f"generator.datasets.images v{VERSION}",
                "seconds": round(self.seconds, 2), **self.extra}


def check_resolution(resolution: int) -> int:
    if resolution not in RESOLUTIONS:
        raise BadInput(f"resolution {resolution}: use a power of two from 64 to 1024 ({', '.join(map(str, RESOLUTIONS))})")
    return resolution


def check_name(name: str) -> str:
    ok = 0 < len(name) <= 100 and name[0].isalnum() and all(c.isalnum() or c in "._-" for c in name)
    if not ok:
        raise BadInput(f"dataset name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit")
    return name


def parse_colour(text: str) -> tuple[int, int, int]:
    from PIL import ImageColor

    try:
        rgb = ImageColor.getrgb(text)
    except ValueError as e:
        raise BadInput(f"background {text!r}: not a colour (a name such as white, or #rrggbb)") from e
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def list_images(folder: Path) -> tuple[list[Path], int]:
    """The JPEG/PNG/WebP files under ``folder`` (recursively, hidden ones skipped, sorted) and how many other
    files there are."""
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder")
    found, other = [], 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            if f.startswith("."):
                continue
            p = Path(root) / f
            if p.suffix.lower() in SUFFIXES and p.is_file():
                found.append(p)
            else:
                other += 1
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix()), other


def fit_square(rgb: np.ndarray, resolution: int, fit: str, background: tuple[int, int, int]) -> np.ndarray:
    """(H, W, 3) uint8 -> (R, R, 3): the centred square (crop) or the whole picture on a square (pad),
    resized with Lanczos."""
    from PIL import Image

    im = Image.fromarray(rgb)
    w, h = im.size
    lanczos = Image.Resampling.LANCZOS
    if fit == "crop":
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
        if s != resolution:
            im = im.resize((resolution, resolution), lanczos)
        return np.asarray(im, dtype=np.uint8)
    s = max(w, h)
    nw, nh = max(1, round(w * resolution / s)), max(1, round(h * resolution / s))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), lanczos)
    canvas = Image.new("RGB", (resolution, resolution), background)
    canvas.paste(im, ((resolution - nw) // 2, (resolution - nh) // 2))
    return np.asarray(canvas, dtype=np.uint8)


class _NearIndex:
    """Kept pictures' pHashes and colour thumbnails; finds the kept picture a new one copies."""

    def __init__(self) -> None:
        self.hashes = np.zeros(1024, np.uint64)
        self.thumbs = np.zeros((1024, 8, 8, 3), np.float32)
        self.n = 0

    @staticmethod
    def features(img: np.ndarray) -> tuple[int, np.ndarray]:
        import imagehash
        from PIL import Image

        im = Image.fromarray(img)
        h = int(str(imagehash.phash(im)), 16)
        thumb = np.asarray(im.resize((8, 8), Image.Resampling.BOX), np.float32)
        return h, thumb

    def match(self, h: int, thumb: np.ndarray) -> tuple[int, int, float] | None:
        """(index of the kept picture, pHash bits apart, largest thumbnail cell difference), or None."""
        if self.n == 0:
            return None
        bits = np.bitwise_count(self.hashes[:self.n] ^ np.uint64(h))
        for k in np.nonzero(bits <= NEAR_BITS)[0]:
            cell = float(np.abs(self.thumbs[k] - thumb).max())
            if cell <= NEAR_CELL:
                return int(k), int(bits[k]), cell
        return None

    def add(self, h: int, thumb: np.ndarray) -> None:
        if self.n == len(self.hashes):
            self.hashes = np.concatenate([self.hashes, np.zeros_like(self.hashes)])
            self.thumbs = np.concatenate([self.thumbs, np.zeros_like(self.thumbs)])
        self.hashes[self.n], self.thumbs[self.n] = h, thumb
        self.n += 1


def build_into(tmp: Path, folder: Path, resolution: int, *, fit: str = "crop", allow_upscale: bool = False,
               background: tuple[int, int, int] = (255, 255, 255), near: bool = True,
               max_pixels: int = DEFAULTS.max_image_pixels, progress: Callable[[int], None] | None = None,
               say: Callable[[str], None] | None = None) -> BuildResult:
    """Write the dataset's files into the (empty, existing) folder ``tmp``; the caller renames it into place.
    Raises BadInput when the folder holds no usable picture."""
    t0 = time.monotonic()
    say = say or log.info
    check_resolution(resolution)
    if fit not in FITS:
        raise BadInput(f"fit {fit!r}: use crop or pad")
    files, other = list_images(folder)
    if not files:
        raise BadInput(f"{folder}: no JPEG, PNG or WebP files in it (or its subfolders)"
                       + (f"; {other} other file(s) ignored" if other else ""))
    kept: list[str] = []
    dropped: list[Dropped] = []
    upscaled: list[str] = []
    exact: dict[str, str] = {}
    index = _NearIndex()
    digest = hashlib.sha256()
    files_meta: list[dict[str, Any]] = []
    with open(tmp / DATA_FILE, "wb") as out:
        for p in files:
            rel = p.relative_to(folder).as_posix()
            if progress:
                progress(1)
            try:
                hdr = probe_image(p, what=rel, max_pixels=max_pixels)
                side = min(hdr.width, hdr.height) if fit == "crop" else max(hdr.width, hdr.height)
                if side < resolution and not allow_upscale:
                    dropped.append(Dropped(rel, "too_small", f"{hdr.width}x{hdr.height}, smaller than {resolution} "
                                           "(--allow-upscale to upscale it)"))
                    continue
                rgb = read_image(p, what=rel, max_pixels=max_pixels, fit=(resolution, resolution),
                                 cover=(fit == "crop"), background=background)
            except MediaTooLarge as e:
                dropped.append(Dropped(rel, "too_large", e.reason))
                continue
            except BadMedia as e:
                dropped.append(Dropped(rel, "unreadable", e.reason))
                continue
            key = hashlib.sha256(repr(rgb.shape).encode() + rgb.tobytes()).hexdigest()
            if key in exact:
                dropped.append(Dropped(rel, "duplicate", "the same pixels", of=exact[key]))
                continue
            img = fit_square(rgb, resolution, fit, background)
            h, thumb = index.features(img)
            if near and (m := index.match(h, thumb)) is not None:
                dropped.append(Dropped(rel, "near_duplicate", f"looks the same at {resolution} px (pHash {m[1]} bits "
                                       f"apart, colours at most {m[2]:.0f} apart)", of=kept[m[0]]))
                continue
            if side < resolution:
                upscaled.append(rel)
                say(f"warning: {rel} is {hdr.width}x{hdr.height}, upscaled to {resolution} (--allow-upscale)")
            exact[key] = rel
            index.add(h, thumb)
            buf = np.ascontiguousarray(img).tobytes()
            out.write(buf)
            digest.update(buf)
            kept.append(rel)
            files_meta.append({"file": rel, "pixels_sha256": key, "size": [hdr.width, hdr.height]})
        out.flush()
        os.fsync(out.fileno())
    if not kept:
        why = {}
        for d in dropped:
            why[d.reason] = why.get(d.reason, 0) + 1
        named = "; ".join(f"{d.file}: {d.detail}" for d in dropped[:5])
        raise BadInput(f"{folder}: no usable picture among {len(files)} file(s) "
                       f"({', '.join(f'{n} {r}' for r, n in why.items())}): {named}")
    res = BuildResult(name="", folder=tmp, source=str(folder.resolve()), resolution=resolution, fit=fit, kept=kept,
                      dropped=dropped, upscaled=upscaled, data_sha256=digest.hexdigest(),
                      seconds=time.monotonic() - t0, ignored=other)
    _write_sheet(tmp, len(kept), resolution)
    index_doc = {"version": FORMAT_VERSION, "shape": [len(kept), resolution, resolution, 3], "dtype": "uint8",
                 "data_file": DATA_FILE, "data_sha256": res.data_sha256, "files": files_meta}
    _write_json(tmp / INDEX_FILE, index_doc)
    return res


def _write_sheet(tmp: Path, n: int, resolution: int) -> None:
    from PIL import Image

    mm = np.memmap(tmp / DATA_FILE, dtype=np.uint8, mode="r", shape=(n, resolution, resolution, 3))
    picks = sheet_picks(n)
    sheet = contact_sheet(np.asarray(mm[picks]), cell=min(resolution, 64))
    del mm
    Image.fromarray(sheet).save(tmp / SHEET_FILE, optimize=True)


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_image_dataset(settings: Any, cat: Any, folder: Path, name: str, resolution: int, *, fit: str = "crop",
                       allow_upscale: bool = False, background: tuple[int, int, int] = (255, 255, 255),
                       near: bool = True, replace: bool = False, progress: Callable[[int], None] | None = None,
                       say: Callable[[str], None] | None = None, extra: dict[str, Any] | None = None,
                       source: str | None = None) -> BuildResult:
    """Build ``<data_dir>/datasets/<name>`` from ``folder`` and register it in the catalogue, all or nothing:
    a taken name (without ``replace``), a bad resolution or fit, a missing or unusable folder raise BadInput
    before anything is written; a failure or interrupt later leaves the previous state (and, when replacing,
    the previous dataset) as it was."""
    from catalogue.datasets import DatasetExists, get_dataset, put_dataset
    from catalogue.workdirs import OWNER_FILE, owned_tempdir

    check_name(name)
    check_resolution(resolution)
    if fit not in FITS:
        raise BadInput(f"fit {fit!r}: use crop or pad")
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder")
    if get_dataset(cat, name) is not None and not replace:
        raise DatasetExists(f"a dataset named {name!r} exists already (--replace to rebuild it)")
    from gallery.media import limits_of

    root = settings.path("datasets")
    root.mkdir(parents=True, exist_ok=True)
    with owned_tempdir(root, prefix=f".tmp-{name}-") as tmp:
        res = build_into(tmp, folder, resolution, fit=fit, allow_upscale=allow_upscale, background=background,
                         near=near, max_pixels=limits_of(settings).max_image_pixels, progress=progress, say=say)
        res.name = name
        res.extra = dict(extra or {})
        if source is not None:  # where the pictures came from, when the folder was a scratch copy
            res.source = source
        (tmp / OWNER_FILE).unlink(missing_ok=True)
        _fsync_dir(tmp)
        final = root / name
        old = None
        if final.exists():  # the dataset being replaced, or the folder of a build killed before registering
            old = root / f".old-{name}-{os.getpid()}"
            os.replace(final, old)
        os.replace(tmp, final)
        try:
            _fsync_dir(root)
            put_dataset(cat, name=name, kind="images", path=f"datasets/{name}", resolution=resolution,
                        count=len(res.kept), data_sha256=res.data_sha256, provenance=res.provenance(), replace=replace)
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            if old is not None:
                os.replace(old, final)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        res.folder = final
    return res


def dataset_folder(settings: Any, row: Any) -> Path:
    """Where a registered dataset's files are (its path is relative to data_dir unless absolute)."""
    return settings.path(row.path)
