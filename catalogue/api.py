"""The catalogue: open it, add artwork drafts, query pages, verify and clean the media store."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload, sessionmaker

from catalogue import db, workdirs
from catalogue.drafts import ArtworkDraft, fingerprint
from catalogue.models import Artwork, Feature, Lineage, Media, Model, Pairing, Tag, utcnow
from catalogue.store import MediaStore
from gallery.errors import GalleryError

if TYPE_CHECKING:
    from catalogue.settings import CatalogueSettings, HasCatalogueSettings

log = logging.getLogger(__name__)
BLOB_LOCK_KEY = 0x4C47_B10B  # the PostgreSQL advisory lock key of the blob protocol (see Catalogue)
GC_BATCH = 500  # blobs unlinked per exclusive-lock transaction: writers wait at most one batch
# Where jobs make their scratch folders (tempfile names, tmp*), relative to data_dir: gc removes stale ones.
WORK_PATTERNS = ("work/tmp*", "work/*/tmp*", "runs/*/tmp*", "datasets/.tmp-*", "datasets/.old-*")


class GcResult(list):
    """The sha256 of every blob gc removed (a list, as before), with what else it cleaned."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp_files = 0
        self.workdirs: list[Path] = []


@dataclass
class VerifyReport:
    checked: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)  # (media id, sha)
    corrupt: list[tuple[int, str]] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    quarantined: int = 0  # media rows already marked broken by an earlier repair (not re-reported)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupt


class Catalogue:
    """The hub every package talks through. Cheap to create; holds an engine and a media store."""

    def __init__(self, url: str, media_root: Path, *, busy_timeout_ms: int = 30_000, fsync: bool = True,
                 auto_upgrade: bool = True, gc_grace_seconds: int = 3600,
                 work_patterns: Sequence[str] = ()) -> None:
        self.url = url
        self.work_patterns = list(work_patterns)  # absolute glob patterns of scratch folders gc may clean
        self.engine: Engine = db.make_engine(url, busy_timeout_ms)
        self.store = MediaStore(media_root, fsync=fsync)
        self.gc_grace_seconds = gc_grace_seconds
        self._sqlite = db.is_sqlite(url)
        write_bind = self.engine.execution_options(sqlite_begin="IMMEDIATE") if self._sqlite else self.engine
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_bind, expire_on_commit=False)
        self.created = False  # True when this open made the catalogue's tables (a new catalogue)
        if auto_upgrade:
            self.created = self.upgrade()[0] is None

    @classmethod
    def from_settings(cls, c: CatalogueSettings, data_dir: Path) -> Catalogue:
        """The catalogue of the ``catalogue`` section, its relative paths under ``data_dir``."""
        return cls(c.database_url(data_dir), c.media_path(data_dir), busy_timeout_ms=c.busy_timeout_ms, fsync=c.fsync,
                   auto_upgrade=c.auto_upgrade, gc_grace_seconds=c.gc_grace_seconds,
                   work_patterns=[str(data_dir / pat) for pat in WORK_PATTERNS])

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sessions --------------------------------------------------------------------------
    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        return db.upgrade(self.engine, self.url, revision)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE on SQLite): committed on success, rolled back on error."""
        with self._write() as s, s.begin():
            yield s

    # ---- adding ----------------------------------------------------------------------------
    def _put_one(self, m: Any, sync: bool | None = None) -> tuple[str, int]:
        if m.data is not None:
            return self.store.put_bytes(m.data, sync=sync), len(m.data)
        assert m.path is not None
        if not m.path.is_file():
            raise FileNotFoundError(f"media {m.role!r}: no such file {m.path}")
        return self.store.put_file(m.path, sync=sync), m.path.stat().st_size

    def _put_media(self, draft: ArtworkDraft, sync: bool | None = None) -> list[tuple[str, int]]:
        return [self._put_one(m, sync) for m in draft.media]

    # ---- the blob protocol (gc against commits in flight) ----------------------------------
    # A commit names blobs it wrote (or found) before its transaction; gc must never remove one of
    # them in between. Both sides therefore act on the store only while holding the blob lock:
    #   writer: inside its write transaction, takes the lock shared, re-checks that every blob it is
    #           about to name is present (re-putting any that went), then inserts and commits;
    #   gc:     picks candidates outside (unreferenced, older than the grace time), then, per batch,
    #           takes the lock exclusively, re-reads which candidates rows now name and unlinks the
    #           others, then commits.
    # On SQLite the lock is the database's write lock itself (BEGIN IMMEDIATE serialises writers and
    # gc across processes); on PostgreSQL it is a transaction-scoped advisory lock (writers shared,
    # gc exclusive), released by commit or rollback, so a killed process never leaves it held.
    def _blob_lock(self, s: Session, exclusive: bool) -> None:
        if self._sqlite:
            return  # BEGIN IMMEDIATE already holds the database write lock
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        s.execute(text(f"SELECT {fn}(:k)"), {"k": BLOB_LOCK_KEY})

    def _ensure_blobs(self, drafts: Sequence[ArtworkDraft], blobs: list[list[tuple[str, int]]],
                      idx: Sequence[int]) -> int:
        """Under the blob lock: put back any blob of ``drafts[idx]`` that gc removed since it was
        written; returns how many were put back."""
        n = 0
        for i in idx:
            for m, (sha, _size) in zip(drafts[i].media, blobs[i], strict=True):
                if self.store.exists(sha):
                    continue
                got, _ = self._put_one(m)
                if got != sha:
                    raise GalleryError(f"media {m.role!r} changed while it was being added "
                                       f"(was {sha[:12]}, now {got[:12]}): nothing written")
                n += 1
        if n:
            log.info("catalogue: %d blob(s) removed by gc before their rows were committed: put back", n)
        return n

    def add(self, draft: ArtworkDraft) -> int:
        """Write the blobs, then the rows in one transaction; returns the artwork id.

        Idempotent: an identical draft (kind, recipe, model, media content) returns the existing id.
        """
        return self.add_many([draft])[0]

    def add_many(self, drafts: Sequence[ArtworkDraft]) -> list[int]:
        """Add several drafts: all blobs first, then every row in a single transaction."""
        if len(drafts) > 8:
            # Blob writes are file-system bound (open/write/rename): overlap them on a few threads.
            from concurrent.futures import ThreadPoolExecutor

            # Group commit: no fsync per file, one syncfs for the batch before any row is written.
            with ThreadPoolExecutor(max_workers=4) as pool:
                blobs = list(pool.map(lambda d: self._put_media(d, sync=False), drafts))
            self.store.sync()
        else:
            blobs = [self._put_media(d) for d in drafts]
        fps = [fingerprint(d, [sha for sha, _ in b]) for d, b in zip(drafts, blobs, strict=True)]
        for attempt in range(3):
            try:
                return self._insert_rows(drafts, blobs, fps)
            except IntegrityError:
                # A concurrent writer added the same draft between our check and insert: retry finds it.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _insert_rows(self, drafts: Sequence[ArtworkDraft], blobs: list[list[tuple[str, int]]],
                     fps: list[str]) -> list[int]:
        """Bulk INSERT … RETURNING of the new artworks, then their media, tags, lineage, features, pairing."""
        ids: list[int | None] = [None] * len(drafts)
        with self.write() as s:
            self._blob_lock(s, exclusive=False)
            existing = dict(s.execute(select(Artwork.fingerprint, Artwork.id)
                                      .where(Artwork.fingerprint.in_(set(fps)))).all())
            model_ids: dict[str, int | None] = {}
            first: dict[str, int] = {}
            dup_of: dict[int, int] = {}
            new_idx: list[int] = []
            art_rows: list[dict[str, Any]] = []
            for i, (d, fp) in enumerate(zip(drafts, fps, strict=True)):
                if fp in existing:
                    ids[i] = existing[fp]
                    continue
                if fp in first:
                    dup_of[i] = first[fp]
                    continue
                first[fp] = i
                mid = None
                if d.model_sha256:
                    if d.model_sha256 not in model_ids:
                        model_ids[d.model_sha256] = s.scalar(select(Model.id).where(
                            Model.weights_sha256 == d.model_sha256))
                    mid = model_ids[d.model_sha256]
                new_idx.append(i)
                art_rows.append({"kind": d.kind, "title": d.title, "recipe": d.recipe, "fingerprint": fp,
                                 "model_id": mid, "run_id": d.run_id, "status": d.status, "duration": d.duration,
                                 "extra": d.extra, "created": d.created or utcnow(), "rating": None,
                                 "status_reason": None})
            if art_rows:
                self._ensure_blobs(drafts, blobs, new_idx)
                new_ids = list(s.scalars(insert(Artwork).returning(Artwork.id, sort_by_parameter_order=True),
                                         art_rows))
                media_rows: list[dict[str, Any]] = []
                tag_rows: list[dict[str, Any]] = []
                lineage_rows: list[dict[str, Any]] = []
                feature_rows: list[dict[str, Any]] = []
                pairing_rows: list[dict[str, Any]] = []
                for i, aid in zip(new_idx, new_ids, strict=True):
                    ids[i] = aid
                    d = drafts[i]
                    for pos, (m, (sha, size)) in enumerate(zip(d.media, blobs[i], strict=True)):
                        media_rows.append({"artwork_id": aid, "role": m.role, "position": pos, "sha256": sha,
                                           "mime": m.mime, "size": size, "width": m.width, "height": m.height,
                                           "duration": m.duration, "meta": m.meta, "broken": False})
                    tag_rows += [{"artwork_id": aid, "name": t} for t in sorted(set(d.tags))]
                    lineage_rows += [{"child_id": aid, "parent_id": pid, "relation": rel}
                                     for pid, rel in sorted(set(d.parents))]
                    feature_rows += [_feature_dict(aid, name, val) for name, val in d.features.items()]
                    if d.pair_with is not None:
                        pairing_rows.append({"visual_id": d.pair_with[0], "sound_id": aid,
                                             "timeline": d.pair_with[1], "created": utcnow()})
                for table, rows in ((Media, media_rows), (Tag, tag_rows), (Lineage, lineage_rows),
                                    (Feature, feature_rows), (Pairing, pairing_rows)):
                    if rows:
                        s.execute(insert(table), rows)
        for i, j in dup_of.items():
            ids[i] = ids[j]
        return [int(x) for x in ids]  # type: ignore[arg-type]

    # ---- models ----------------------------------------------------------------------------
    def register_model(self, family: str, name: str, weights_sha256: str, *, preset: str | None = None,
                       config: dict[str, Any] | None = None, path: str | None = None,
                       provenance: dict[str, Any] | None = None) -> int:
        """Register a checkpoint (idempotent on its weights hash); returns the model id."""
        with self.write() as s:
            found = s.scalar(select(Model).where(Model.weights_sha256 == weights_sha256))
            if found is not None:
                return found.id
            m = Model(family=family, name=name, preset=preset, config=config or {}, weights_sha256=weights_sha256,
                      path=path, provenance=provenance or {})
            s.add(m)
            s.flush()
            return m.id

    # ---- reading ---------------------------------------------------------------------------
    def get(self, artwork_id: int) -> Artwork | None:
        with self.read() as s:
            return s.get(Artwork, artwork_id)

    def page(self, *, kind: str | Iterable[str] | None = None, status: str | Iterable[str] | None = "ok",
             since: datetime | None = None, until: datetime | None = None, limit: int = 50,
             before: tuple[datetime, int] | None = None, newest_first: bool = True,
             with_media: bool = True) -> list[Artwork]:
        """A filtered page ordered by creation time; ``before`` is the keyset cursor (created, id).

        ``with_media=False`` loads the artwork rows alone (one indexed query): faster for listings
        that do not need media or tags; touching ``.media`` on those rows raises.
        """
        q = select(Artwork)
        if not with_media:
            q = q.options(lazyload(Artwork.media), lazyload(Artwork.tags))
        if kind is not None:
            q = q.where(Artwork.kind == kind) if isinstance(kind, str) else q.where(Artwork.kind.in_(list(kind)))
        if status is not None:
            q = (q.where(Artwork.status == status) if isinstance(status, str)
                 else q.where(Artwork.status.in_(list(status))))
        if since is not None:
            q = q.where(Artwork.created >= since)
        if until is not None:
            q = q.where(Artwork.created < until)
        if before is not None:
            c, i = before
            q = q.where((Artwork.created < c) | ((Artwork.created == c) & (Artwork.id < i)))
        order = (Artwork.created.desc(), Artwork.id.desc()) if newest_first else (Artwork.created, Artwork.id)
        with self.read() as s:
            return list(s.scalars(q.order_by(*order).limit(limit)))

    def count(self, kind: str | None = None) -> int:
        q = select(func.count(Artwork.id))
        if kind:
            q = q.where(Artwork.kind == kind)
        with self.read() as s:
            return int(s.scalar(q) or 0)

    def stats(self) -> dict[str, Any]:
        with self.read() as s:
            by_kind = dict(s.execute(select(Artwork.kind, func.count()).group_by(Artwork.kind)).all())
            by_status = dict(s.execute(select(Artwork.status, func.count()).group_by(Artwork.status)).all())
            n_media = s.scalar(select(func.count(Media.id))) or 0
            media_bytes = s.scalar(select(func.coalesce(func.sum(Media.size), 0))) or 0
            n_models = s.scalar(select(func.count(Model.id))) or 0
        blob_count = 0
        blob_bytes = 0
        for _sha, p in self.store.iter_blobs():
            blob_count += 1
            blob_bytes += p.stat().st_size
        return {"url": _redact(self.url), "media_root": str(self.store.root), "artworks": sum(by_kind.values()),
                "by_kind": by_kind, "by_status": by_status, "media_rows": n_media, "media_bytes": int(media_bytes),
                "blobs": blob_count, "blob_bytes": blob_bytes, "models": n_models}

    def media_path(self, media: Media) -> Path:
        return self.store.path(media.sha256)

    # ---- status ----------------------------------------------------------------------------
    def set_status(self, artwork_id: int, status: str, reason: str | None = None) -> None:
        with self.write() as s:
            art = s.get(Artwork, artwork_id)
            if art is None:
                raise KeyError(artwork_id)
            art.status = status
            art.status_reason = reason

    def quarantine_media(self, sha: str, reason: str) -> list[int]:
        """Mark every artwork using this blob as quarantined and move the blob aside; returns artwork ids."""
        with self.write() as s:
            rows = list(s.scalars(select(Media).where(Media.sha256 == sha)))
            ids = sorted({m.artwork_id for m in rows})
            for m in rows:
                m.broken = True
            for aid in ids:
                art = s.get(Artwork, aid)
                if art is not None:
                    art.status = "quarantined"
                    art.status_reason = reason
        self.store.move_to_quarantine(sha)
        return ids

    # ---- maintenance -----------------------------------------------------------------------
    def verify(self, repair: bool = False) -> VerifyReport:
        rep = VerifyReport()
        with self.read() as s:
            rows = s.execute(select(Media.id, Media.sha256, Media.broken).order_by(Media.id)).all()
        checked: dict[str, bool | None] = {}
        for mid, sha, broken in rows:
            if broken:
                rep.quarantined += 1
                continue
            if sha not in checked:
                p = self.store.path(sha)
                if not p.is_file():
                    checked[sha] = None
                else:
                    checked[sha] = self.store.hash_file(p) == sha
                    rep.checked += 1
            state = checked[sha]
            if state is None:
                rep.missing.append((mid, sha))
            elif state is False:
                rep.corrupt.append((mid, sha))
        if repair:
            for sha in sorted({sha for _, sha in rep.corrupt}):
                self.quarantine_media(sha, "corrupt blob (hash mismatch)")
                rep.repaired.append(sha)
            for sha in sorted({sha for _, sha in rep.missing}):
                with self.write() as s:
                    for m in s.scalars(select(Media).where(Media.sha256 == sha)):
                        m.broken = True
                        art = s.get(Artwork, m.artwork_id)
                        if art is not None:
                            art.status = "quarantined"
                            art.status_reason = "missing blob"
                rep.repaired.append(sha)
        return rep

    def gc(self, grace_seconds: float | None = None, dry_run: bool = False) -> GcResult:
        """Remove blobs nothing refers to (older than the grace time), stale temp files and stale
        work folders (older than the grace time, owned by no live process).

        Safe against writers in flight (see the blob protocol above): a blob is unlinked only under
        the exclusive blob lock, after re-reading that no committed row names it.
        """
        grace = self.gc_grace_seconds if grace_seconds is None else grace_seconds
        now = time.time()
        with self.read() as s:
            used = set(s.scalars(select(Media.sha256).distinct()))
        candidates = []
        for sha, p in self.store.iter_blobs():
            if sha in used:
                continue
            try:
                if now - p.stat().st_mtime < grace:
                    continue
            except FileNotFoundError:
                continue
            candidates.append(sha)
        removed = GcResult()
        if dry_run:
            removed.extend(candidates)
            removed.workdirs = workdirs.stale(self.work_patterns, grace, now)
            return removed
        for k in range(0, len(candidates), GC_BATCH):
            batch = candidates[k:k + GC_BATCH]
            with self.write() as s:
                self._blob_lock(s, exclusive=True)
                named = set(s.scalars(select(Media.sha256).where(Media.sha256.in_(batch)).distinct()))
                for sha in batch:
                    if sha in named:
                        continue
                    p = self.store.path(sha)
                    try:
                        if time.time() - p.stat().st_mtime < grace:
                            continue  # put again since (a writer about to commit, or a new one)
                        p.unlink()
                    except FileNotFoundError:
                        continue
                    removed.append(sha)
        removed.tmp_files = self.store.clean_tmp(grace)
        removed.workdirs = workdirs.remove_stale(self.work_patterns, grace, now)
        for sub in self.store.blobs.iterdir():
            if sub.is_dir() and not any(sub.iterdir()):
                with contextlib.suppress(OSError):  # a blob arrived meanwhile: the folder stays
                    os.rmdir(sub)
        return removed

    # ---- features --------------------------------------------------------------------------
    def set_features(self, artwork_id: int, features: dict[str, float | list[float] | np.ndarray],
                     model_sha256: str | None = None) -> None:
        with self.write() as s:
            for name, val in features.items():
                s.merge(Feature(**_feature_dict(artwork_id, name, val, model_sha256)))


def _feature_dict(artwork_id: int, name: str, val: Any, model_sha256: str | None = None) -> dict[str, Any]:
    if isinstance(val, (list, tuple, np.ndarray)):
        arr = np.asarray(val, dtype=np.float32).ravel()
        return {"artwork_id": artwork_id, "name": name, "value": None, "vector": arr.tobytes(), "dims": int(arr.size),
                "model_sha256": model_sha256, "created": utcnow()}
    return {"artwork_id": artwork_id, "name": name, "value": float(val), "vector": None, "dims": None,
            "model_sha256": model_sha256, "created": utcnow()}



def feature_vector(f: Feature) -> np.ndarray | None:
    return None if f.vector is None else np.frombuffer(f.vector, dtype=np.float32)


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def open_catalogue(settings: HasCatalogueSettings) -> Catalogue:
    """The catalogue of a configuration (the gallery's Settings, or anything with ``catalogue`` and
    ``data_dir``)."""
    return Catalogue.from_settings(settings.catalogue, settings.data_dir)
