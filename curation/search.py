"""Search: by text (CLIP), by example (an artwork or an uploaded image), by feature ranges, with filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, func, or_, select

from catalogue.models import Artwork, Feature, Model, Tag
from curation import features as F
from curation.embed import Encoder, feature_name, normalise
from curation.index import VectorIndex, get_index
from gallery.errors import BadInput
from gallery.media import limits_of


@dataclass
class Filters:
    kinds: list[str] = field(default_factory=list)
    model: str | None = None  # model name, or a prefix of its weights sha256
    since: datetime | None = None
    until: datetime | None = None
    min_rating: int | None = None
    tags: list[str] = field(default_factory=list)  # all of them
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # feature -> [lo, hi]
    status: str = "ok"

    def validate(self) -> Filters:
        for name, (lo, hi) in self.ranges.items():
            if name not in F.SCALARS:
                raise BadInput(f"unknown feature {name!r} for a range; known: {', '.join(F.SCALARS)}")
            if np.isnan(lo) or np.isnan(hi) or lo > hi:
                raise BadInput(f"feature range {name}: need lo <= hi, got {lo}..{hi}")
        if self.since and self.until and self.since > self.until:
            raise BadInput(f"date filter: since {self.since} is after until {self.until}")
        return self


def parse_range(text: str) -> tuple[str, tuple[float, float]]:
    """``brightness=0.2:0.4`` (either end may be empty) -> ("brightness", (0.2, 0.4))."""
    name, sep, rng = text.partition("=")
    lo_s, sep2, hi_s = rng.partition(":")
    if not sep or not sep2:
        raise BadInput(f"feature range {text!r}: write NAME=LO:HI, e.g. brightness=0.2:0.4")
    try:
        lo = float(lo_s) if lo_s.strip() else -np.inf
        hi = float(hi_s) if hi_s.strip() else np.inf
    except ValueError as e:
        raise BadInput(f"feature range {text!r}: LO and HI must be numbers") from e
    name = name.strip()
    if name not in F.SCALARS:
        raise BadInput(f"unknown feature {name!r}; known: {', '.join(F.SCALARS)}")
    if lo > hi:
        raise BadInput(f"feature range {text!r}: LO is above HI")
    return name, (lo, hi)


def filtered_query(f: Filters) -> Any:
    q = select(Artwork.id)
    if f.status != "all":
        q = q.where(Artwork.status == f.status)
    if f.kinds:
        q = q.where(Artwork.kind.in_(f.kinds))
    if f.model:
        q = q.join(Model, Model.id == Artwork.model_id).where(
            or_(Model.name == f.model, Model.weights_sha256.startswith(f.model.lower())))
    if f.since:
        q = q.where(Artwork.created >= f.since)
    if f.until:
        q = q.where(Artwork.created < f.until)
    if f.min_rating is not None:
        q = q.where(Artwork.rating >= f.min_rating)
    for t in f.tags:
        q = q.where(Artwork.id.in_(select(Tag.artwork_id).where(Tag.name == t)))
    for name, (lo, hi) in f.ranges.items():
        conds = [Feature.name == name]
        if np.isfinite(lo):
            conds.append(Feature.value >= lo)
        if np.isfinite(hi):
            conds.append(Feature.value <= hi)
        q = q.where(Artwork.id.in_(select(Feature.artwork_id).where(and_(*conds))))
    return q


def filtered_ids(cat: Any, f: Filters) -> list[int]:
    """Ids passing the filters, newest first."""
    q = filtered_query(f.validate()).order_by(Artwork.created.desc(), Artwork.id.desc())
    with cat.read() as s:
        return list(s.scalars(q))


@dataclass
class Hit:
    id: int
    score: float | None = None


class Searcher:
    """Everything a query needs: settings, catalogue, the encoder and its index."""

    def __init__(self, settings: Any, cat: Any, enc: Encoder) -> None:
        self.settings, self.cat, self.enc = settings, cat, enc
        self.emb_name = feature_name(enc)

    @property
    def index(self) -> VectorIndex:
        return get_index(self.settings, self.cat, self.emb_name, self.enc.model_sha256)

    def text_vector(self, text: str) -> np.ndarray:
        text = (text or "").strip()
        if not text:
            raise BadInput("empty text query")
        if len(text) > 500:
            raise BadInput(f"text query too long ({len(text)} characters; at most 500)")
        return normalise(self.enc.encode_texts([text])[0])

    def image_vector(self, data: bytes) -> np.ndarray:
        rgb = F.decode_image(data, what="uploaded image", max_pixels=limits_of(self.settings).max_image_pixels)
        return normalise(self.enc.encode_images([rgb])[0])

    def artwork_vector(self, artwork_id: int) -> np.ndarray:
        idx = self.index
        if not idx.has(artwork_id):
            if self.cat.get(artwork_id) is None:
                raise BadInput(f"no artwork {artwork_id}")
            raise BadInput(f"artwork {artwork_id} has no {self.enc.name} embedding yet: run `gallery curate index`")
        return idx.vector(artwork_id)

    def search(self, *, text: str | None = None, like: int | None = None, image: bytes | None = None,
               filters: Filters | None = None, k: int = 50, offset: int = 0) -> list[Hit]:
        """Ranked by cosine to the query when there is one; otherwise newest first."""
        if k < 1 or k > 10_000 or offset < 0:
            raise BadInput(f"k must be 1..10000 and offset >= 0 (got k={k}, offset={offset})")
        f = (filters or Filters()).validate()
        given = [x is not None for x in (text, like, image)]
        if sum(given) > 1:
            raise BadInput("give one query: text, an artwork to match, or an image")
        trivial = f == Filters(status=f.status) and f.status != "all"
        if not any(given) or not trivial:
            allowed = filtered_ids(self.cat, f)
            if not any(given):
                return [Hit(a) for a in allowed[offset:offset + k]]
        if text is not None:
            q = self.text_vector(text)
        elif like is not None:
            q = self.artwork_vector(like)
        else:
            assert image is not None
            q = self.image_vector(image)
        exclude = {like} if like is not None else set()
        if not trivial:
            hits = self.index.search(q, k + offset, allowed=set(allowed), exclude=exclude)
            return [Hit(a, s) for a, s in hits[offset:]]
        # No filter but the status: search the whole index, then drop hidden/quarantined artworks
        # (looking up only the hits, not every id in the catalogue).
        want = k + offset
        while True:
            hits = self.index.search(q, want, exclude=exclude)
            ok = self._with_status([a for a, _ in hits], f.status)
            kept = [(a, sc) for a, sc in hits if a in ok]
            if len(kept) >= k + offset or len(hits) < want:
                return [Hit(a, sc) for a, sc in kept[offset:offset + k]]
            want *= 4

    def _with_status(self, ids: list[int], status: str) -> set[int]:
        if not ids:
            return set()
        with self.cat.read() as s:
            return set(s.scalars(select(Artwork.id).where(Artwork.id.in_(ids), Artwork.status == status)))


def open_searcher(settings: Any, cat: Any, embedding: str | None = None, update: bool = True) -> Searcher:
    """The searcher `gallery curate search` uses: the configured encoder, the catalogue and its index;
    with ``update``, new artworks get their features and embeddings first."""
    from curation.embed import load_encoder
    from curation.generate import link_lineage
    from curation.indexer import index_catalogue

    enc = load_encoder(settings, embedding)
    if update:
        link_lineage(cat)  # results of queued runs the scheduler has finished since
        index_catalogue(cat, enc)
    return Searcher(settings, cat, enc)


def feature_table(cat: Any, ids: list[int], names: list[str] | None = None) -> dict[int, dict[str, float]]:
    """Scalar features of these artworks: {id: {name: value}}."""
    names = names or list(F.SCALARS)
    out: dict[int, dict[str, float]] = {a: {} for a in ids}
    if not ids:
        return out
    with cat.read() as s:
        for a, n, v in s.execute(select(Feature.artwork_id, Feature.name, Feature.value).where(
                Feature.artwork_id.in_(ids), Feature.name.in_(names), Feature.value.is_not(None))):
            out[a][n] = float(v)
    return out


def feature_vectors(cat: Any, ids: list[int], name: str) -> dict[int, np.ndarray]:
    if not ids:
        return {}
    with cat.read() as s:
        rows = s.execute(select(Feature.artwork_id, Feature.vector).where(
            Feature.artwork_id.in_(ids), Feature.name == name, Feature.vector.is_not(None))).all()
    return {a: np.frombuffer(v, np.float32) for a, v in rows}


def feature_ranges(cat: Any) -> dict[str, tuple[float, float]]:
    """Observed min and max of every scalar feature (for the filter form)."""
    with cat.read() as s:
        rows = s.execute(select(Feature.name, func.min(Feature.value), func.max(Feature.value))
                         .where(Feature.name.in_(list(F.SCALARS)), Feature.value.is_not(None))
                         .group_by(Feature.name)).all()
    return {n: (float(lo), float(hi)) for n, lo, hi in rows}
