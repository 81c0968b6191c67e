"""The catalogue's tables (SQLAlchemy 2 ORM). Alembic migrations under catalogue/migrations mirror these.

Tables: model, artwork, tag, media, feature, pairing, run, lineage, collection, collection_item,
mint, mint_tx. Packages write only their own tables: the generator writes artworks, runs, pairings
and lineage; curation writes features, tags, ratings and collections; minting writes mint rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012 - read by SQLAlchemy as is


# Artwork kinds and media roles the packages use (free strings in the database; these are the known ones).
ARTWORK_KINDS = ("image", "walk", "mix", "projection", "uncanny", "bend", "progression", "soundscape", "melody")
# Named groups of those kinds (each in ARTWORK_KINDS order): a still is one picture, a video plays in time,
# a sound is heard (soundscape, melody); the visuals are the stills and the videos.
STILL_KINDS = ("image", "mix", "projection", "bend")
VIDEO_KINDS = ("walk", "uncanny", "progression")
SOUND_KINDS = ("soundscape", "melody")
VISUAL_KINDS = tuple(k for k in ARTWORK_KINDS if k not in SOUND_KINDS)
MEDIA_ROLES = ("image", "video", "poster", "thumbnail", "frame", "grid", "audio", "midi", "pianoroll",
               "spectrogram", "contact_sheet")
ARTWORK_STATUSES = ("ok", "hidden", "quarantined")


class Model(Base):
    """A model checkpoint known to the catalogue (trained here, shipped, or imported)."""

    __tablename__ = "model"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    family: Mapped[str] = mapped_column(String(32))  # stylegan | vqgan | clip | lts | musicvae
    name: Mapped[str] = mapped_column(String(200))
    preset: Mapped[str | None] = mapped_column(String(100))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    weights_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str | None] = mapped_column(Text)  # where the weights file lives (blob or user path)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Artwork(Base):
    __tablename__ = "artwork"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300), default="")
    recipe: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # sha256 of the canonical draft (kind, recipe, media): makes catalogue.add idempotent.
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id", ondelete="SET NULL"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"))
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | hidden | quarantined
    status_reason: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)  # seconds, for time-based works
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Wall text a curator writes (labels, exports and token metadata use it); empty = not written.
    artist: Mapped[str] = mapped_column(String(200), default="", server_default="")
    year: Mapped[int | None] = mapped_column(Integer)
    medium: Mapped[str] = mapped_column(String(300), default="", server_default="")
    wall_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    media: Mapped[list[Media]] = relationship(back_populates="artwork", cascade="all, delete-orphan",
                                              order_by="Media.position", lazy="selectin")
    tags: Mapped[list[Tag]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    __table_args__ = (Index("ix_artwork_kind_status_created", "kind", "status", "created"),
                      Index("ix_artwork_created", "created"),
                      Index("ix_artwork_status_created", "status", "created"))

    def media_by_role(self, role: str) -> list[Media]:
        return [m for m in self.media if m.role == role]

    def first_media(self, *roles: str) -> Media | None:
        for role in roles:
            for m in self.media:
                if m.role == role:
                    return m
        return None


class Tag(Base):
    __tablename__ = "tag"
    artwork_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    __table_args__ = (Index("ix_tag_name", "name"),)


class Media(Base):
    __tablename__ = "media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artwork_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    mime: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. frame iteration, fps, sample rate
    broken: Mapped[bool] = mapped_column(Boolean, default=False)

    artwork: Mapped[Artwork] = relationship(back_populates="media")


class Feature(Base):
    """A named content feature of an artwork: a scalar (value) or a float32 vector (vector, dims)."""

    __tablename__ = "feature"
    artwork_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    dims: Mapped[int | None] = mapped_column(Integer)
    model_sha256: Mapped[str | None] = mapped_column(String(64))  # which model made an embedding
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_feature_name_value", "name", "value"),)


class Pairing(Base):
    """A visual artwork and the sound artwork that plays with it, on one shared timeline."""

    __tablename__ = "pairing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visual_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), index=True)
    sound_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), index=True)
    timeline: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # duration, keyframe times, offset
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("visual_id", "sound_id"),)


class Run(Base):
    """One generation job: its spec, state and what it produced."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_kind: Mapped[str] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    window: Mapped[str | None] = mapped_column(String(100))
    # queued | running | done | failed | failed-interrupted | timed-out | skipped
    state: Mapped[str] = mapped_column(String(32), default="queued")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started: Mapped[datetime | None] = mapped_column(DateTime)
    ended: Mapped[datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    artwork_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (Index("ix_run_state_created", "state", "created"),)


class Lineage(Base):
    __tablename__ = "lineage"
    child_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="CASCADE"), primary_key=True,
                                           index=True)
    relation: Mapped[str] = mapped_column(String(32), primary_key=True)  # variation | between | rerender | paired


class Collection(Base):
    __tablename__ = "collection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    items: Mapped[list[CollectionItem]] = relationship(back_populates="collection", cascade="all, delete-orphan",
                                                       order_by="CollectionItem.position", lazy="selectin")


class CollectionItem(Base):
    __tablename__ = "collection_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id", ondelete="CASCADE"), index=True)
    artwork_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="RESTRICT"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    collection: Mapped[Collection] = relationship(back_populates="items")
    __table_args__ = (UniqueConstraint("collection_id", "artwork_id"),)


class SavedQuery(Base):
    """A search a curator saved by name (text and filters as the curation search takes them).

    Programmes of the show play a saved query; it is resolved afresh at every catalogue read.
    """

    __tablename__ = "saved_query"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    text: Mapped[str | None] = mapped_column(Text)  # a text search (CLIP), or None for filters only
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # kinds, tags, model, since, ...
    limit: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Mint(Base):
    """One token of a minted set: planned -> sent -> confirmed | failed."""

    __tablename__ = "mint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collection.id", ondelete="RESTRICT"), index=True)
    collection_item_id: Mapped[int | None] = mapped_column(ForeignKey("collection_item.id", ondelete="SET NULL"))
    artwork_id: Mapped[int] = mapped_column(ForeignKey("artwork.id", ondelete="RESTRICT"), index=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    token_id: Mapped[int | None] = mapped_column(BigInteger)
    metadata_cid: Mapped[str | None] = mapped_column(String(120))
    token_uri: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    state: Mapped[str] = mapped_column(String(16), default="planned")
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (UniqueConstraint("chain_id", "contract", "token_id"),
                      UniqueConstraint("chain_id", "contract", "collection_id", "artwork_id"))


class MintTx(Base):
    """The journal of chain transactions: written before a transaction is sent, updated after."""

    __tablename__ = "mint_tx"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[int] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(32))  # deploy | mint | set-base-uri | freeze | …
    collection_id: Mapped[int | None] = mapped_column(ForeignKey("collection.id", ondelete="SET NULL"))
    contract: Mapped[str | None] = mapped_column(String(42))
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    raw_tx: Mapped[str | None] = mapped_column(Text)  # signed transaction (no secrets in it), for re-broadcast
    max_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # e.g. token range, metadata CIDs
    state: Mapped[str] = mapped_column(String(16), default="signed")  # signed | sent | confirmed | failed | replaced
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    receipt: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    __table_args__ = (Index("ix_mint_tx_chain_sender_nonce", "chain_id", "sender", "nonce"),)


class Dataset(Base):
    """A training set made from someone's files (`gallery dataset images`): where its data lives and where it
    came from. The data itself stays out of the database: a folder under data_dir (``path``, relative to
    data_dir unless absolute) holding uint8 arrays and an index; ``data_sha256`` is the hash of those bytes."""

    __tablename__ = "dataset"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # images
    path: Mapped[str] = mapped_column(Text)
    resolution: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)  # items kept
    data_sha256: Mapped[str] = mapped_column(String(64))
    # source folder, counts kept and dropped with the reasons, fit, settings, the dropped files by name
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
