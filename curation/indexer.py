"""`gallery curate index`: compute features and embeddings for artworks that lack them.

A corrupt or missing media file is skipped and reported, never fatal: the rest are indexed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from catalogue.models import SOUND_KINDS, Artwork, Feature
from curation import features as F
from curation.embed import Encoder, HistEncoder, feature_name
from gallery.errors import BadInput

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    indexed: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (artwork id, reason)
    up_to_date: int = 0


def visual_media(art: Artwork) -> Any:
    """The media an artwork is seen by: its image, poster, spectrogram or piano roll, else its thumbnail."""
    roles = ("spectrogram", "pianoroll", "thumbnail", "image") if art.kind in SOUND_KINDS else F.VISUAL_ROLES
    return art.first_media(*roles)


def artwork_image(cat: Any, art: Artwork) -> np.ndarray:
    m = visual_media(art)
    if m is None:
        raise BadInput(f"artwork {art.id} has no image media (roles {', '.join(F.VISUAL_ROLES)})")
    p = cat.media_path(m)
    if not p.is_file():
        raise BadInput(f"artwork {art.id}: media {m.role} blob {m.sha256[:12]} is missing from the store")
    return F.decode_image(p, what=f"artwork {art.id} {m.role}")


def compute(cat: Any, art: Artwork) -> tuple[dict[str, Any], np.ndarray | None]:
    """Features of one artwork and its image (for the embedding), or BadInput naming what is wrong."""
    feats: dict[str, Any] = {}
    rgb = None
    if visual_media(art) is not None:
        rgb = artwork_image(cat, art)
        feats.update(F.image_features(rgb))
    audio = art.first_media("audio")
    if audio is not None:
        p = cat.media_path(audio)
        if not p.is_file():
            raise BadInput(f"artwork {art.id}: audio blob {audio.sha256[:12]} is missing from the store")
        x, sr = F.read_wav(p, what=f"artwork {art.id} audio")
        feats.update(F.sound_features(x, sr))
    if not feats:
        raise BadInput(f"artwork {art.id} ({art.kind}) has no image or audio media to describe")
    feats["emb_hist"] = feats.pop("hist", None) if "hist" in feats else None
    if feats["emb_hist"] is None:
        del feats["emb_hist"]
    return feats, rgb


def index_new(cat: Any, ids: list[int]) -> IndexReport:
    """Features on insert (``curation.index_on_insert``, called by the generator after a job adds its
    artworks): the OpenCV image features, the sound features and the colour-histogram embedding of
    ``ids``. No CLIP: loading the model and encoding cost seconds per job, so the CLIP embeddings are
    computed by the lazy index (`gallery curate index`, or the first search), which skips the rest."""
    return index_catalogue(cat, HistEncoder(), ids=sorted({int(i) for i in ids}))


def index_catalogue(cat: Any, enc: Encoder, *, ids: list[int] | None = None, force: bool = False,
                    batch: int = 32, progress: Any = None) -> IndexReport:
    """Features for every ok artwork (or ``ids``) without them; embeddings with ``enc``."""
    rep = IndexReport()
    emb_name = feature_name(enc)
    hist = HistEncoder()
    with cat.read() as s:
        q = select(Artwork.id).where(Artwork.status == "ok").order_by(Artwork.id)
        if ids is not None:
            q = select(Artwork.id).where(Artwork.id.in_(ids)).order_by(Artwork.id)
        all_ids = list(s.scalars(q))
        have_feat = set(s.scalars(select(Feature.artwork_id).where(
            Feature.name.in_(["brightness", "loudness"]))))
        have_emb = set(s.scalars(select(Feature.artwork_id).where(
            Feature.name == emb_name, Feature.model_sha256 == enc.model_sha256)))
    todo = [a for a in all_ids if force or a not in have_feat or a not in have_emb]
    rep.up_to_date = len(all_ids) - len(todo)
    if ids is not None:
        missing = set(ids) - set(all_ids)
        for a in sorted(missing):
            rep.skipped.append((a, "no such artwork"))
    it = progress(todo) if progress else todo
    pending: list[tuple[int, dict[str, Any], np.ndarray | None]] = []

    def flush() -> None:
        imgs = [(i, rgb) for i, _, rgb in pending if rgb is not None]
        embs: dict[int, np.ndarray] = {}
        if imgs and enc.name != hist.name:
            vecs = enc.encode_images([rgb for _, rgb in imgs])
            embs = {i: v for (i, _), v in zip(imgs, vecs, strict=True)}
        for aid, feats, _ in pending:
            vec_feats = {k: v for k, v in feats.items() if k != "emb_hist"}
            cat.set_features(aid, vec_feats)
            if "emb_hist" in feats:
                cat.set_features(aid, {"emb_hist": feats["emb_hist"]}, model_sha256=hist.model_sha256)
            if aid in embs:
                cat.set_features(aid, {emb_name: embs[aid]}, model_sha256=enc.model_sha256)
            rep.indexed.append(aid)
        pending.clear()

    for aid in it:
        art = cat.get(aid)
        if art is None:
            rep.skipped.append((aid, "no such artwork"))
            continue
        try:
            feats, rgb = compute(cat, art)
        except BadInput as e:
            log.warning("skipping: %s", e)
            rep.skipped.append((aid, str(e)))
            continue
        pending.append((aid, feats, rgb))
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return rep
