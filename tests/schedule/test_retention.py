"""The opt-in retention policy: keep rated, collected and minted works; thin the rest by age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schedutil import sched_settings

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Artwork, Collection, CollectionItem, utcnow
from generator.schedule.retention import apply_retention, retention_candidates


def _add(cat, n: int, age_days: float) -> list[int]:
    ids = cat.add_many([ArtworkDraft(kind="image", recipe={"i": i, "age": age_days},
                                     media=[MediaDraft(role="image", mime="image/png", data=f"{age_days}-{i}".encode())])
                        for i in range(n)])
    with cat.write() as s:
        for aid in ids:
            s.get(Artwork, aid).created = utcnow() - timedelta(days=age_days)
    return ids


def test_retention_thins_old_unprotected_works_and_frees_their_blobs(settings, catalogue):
    s = sched_settings(settings, retention={"enabled": True, "keep_days": 30, "keep_one_in": 3,
                                            "delete_after_days": 365})
    young = _add(catalogue, 6, 1)
    old = _add(catalogue, 12, 60)
    ancient = _add(catalogue, 3, 400)
    rated, collected = old[0], ancient[0]
    with catalogue.write() as sess:
        sess.get(Artwork, rated).rating = 4
        col = Collection(title="set")
        sess.add(col)
        sess.flush()
        sess.add(CollectionItem(collection_id=col.id, artwork_id=collected, position=0))
    expect = sorted([a for a in old if a != rated and a % 3 != 0] + [a for a in ancient if a != collected])
    assert retention_candidates(s, catalogue) == expect
    blob_of = {a: catalogue.get(a).media[0].sha256 for a in expect}
    removed = apply_retention(s, catalogue, datetime.now(UTC))
    assert removed == expect
    assert all(catalogue.get(a) is None for a in expect)
    assert all(not catalogue.store.path(sha).exists() for sha in blob_of.values())
    kept = set(young) | {rated, collected} | {a for a in old if a % 3 == 0}
    assert all(catalogue.get(a) is not None for a in kept)
    assert retention_candidates(s, catalogue) == []


def test_retention_is_opt_in(settings, catalogue):
    from generator.schedule.settings import RetentionSettings

    assert RetentionSettings().enabled is False
    s = sched_settings(settings)
    assert s.schedule.retention.enabled is False
    old = _add(catalogue, 4, 90)
    # The dry run lists without touching anything.
    listed = apply_retention(s, catalogue, dry_run=True)
    assert listed and set(listed) <= set(old)
    assert all(catalogue.get(a) is not None for a in old)
