"""The programme: pure logic with a fake clock (no GL, no sound)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from generator.samples import image_draft, sound_draft, video_draft
from installation.programme import CatalogueSource, Entry, MediaRef, Programme, duration_for
from installation.settings import ShowSettings
from tests.installation.helpers import show_settings

# A Wednesday, 12:00 UTC
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def entry(i: int, kind: str = "image", created: datetime | None = None, status: str = "ok") -> Entry:
    c = (created or NOON - timedelta(days=30)).astimezone(UTC).replace(tzinfo=None)
    return Entry(artwork_id=i, kind=kind, title=f"w{i}", created=c, duration=10.0,
                 visual=MediaRef(Path(f"/x/{i}"), f"{i:064d}", "image"), status=status)


def test_weights_per_kind_are_respected():
    s = ShowSettings(weights={"image": 1.0, "walk": 3.0, "soundscape": 0.0}, no_repeat=0, fresh_hours=0)
    p = Programme(s, seed=1)
    p.update([entry(i, "image") for i in range(5)] + [entry(10 + i, "walk") for i in range(5)]
             + [entry(20, "soundscape")])
    kinds = Counter(p.next(NOON).kind for _ in range(2000))
    assert kinds["soundscape"] == 0  # weight 0: never
    assert 2.6 < kinds["walk"] / kinds["image"] < 3.4


def test_no_repeat_window_and_least_recent_first():
    s = ShowSettings(no_repeat=4, fresh_hours=0)
    p = Programme(s, seed=2)
    p.update([entry(i) for i in range(6)])
    seq = [p.next(NOON).artwork_id for _ in range(60)]
    for k in range(len(seq) - 4):
        assert len(set(seq[k:k + 5])) == 5, seq[k:k + 5]
    # The first six are a permutation: never-shown works come before any repeat.
    assert sorted(seq[:6]) == list(range(6))


def test_no_repeat_relaxes_for_small_catalogues():
    p = Programme(ShowSettings(no_repeat=8, fresh_hours=0), seed=0)
    p.update([entry(1), entry(2)])
    seq = [p.next(NOON).artwork_id for _ in range(6)]
    assert seq in ([1, 2] * 3, [2, 1] * 3)
    p.update([entry(1)])
    assert [p.next(NOON).artwork_id for _ in range(3)] == [1, 1, 1]


def test_fresh_works_first_newest_first_once_each():
    p = Programme(ShowSettings(fresh_hours=12, no_repeat=0), seed=0)
    old = [entry(i) for i in range(5)]
    fresh = [entry(100, created=NOON - timedelta(hours=3)), entry(101, created=NOON - timedelta(hours=1)),
             entry(102, created=NOON - timedelta(hours=20))]  # 20 h old is not fresh
    p.update(old + fresh)
    assert [p.next(NOON).artwork_id for _ in range(2)] == [101, 100]
    later = [p.next(NOON).artwork_id for _ in range(30)]
    assert later.count(101) < 10 and 102 in later  # fresh ones then join the ordinary rotation


def test_hidden_and_quarantined_never_shown_and_excluded_leave():
    p = Programme(ShowSettings(no_repeat=0, fresh_hours=0), seed=0)
    p.update([entry(1), entry(2, status="hidden"), entry(3, status="quarantined"), entry(4)])
    shown = {p.next(NOON).artwork_id for _ in range(50)}
    assert shown == {1, 4}
    p.exclude(4)
    assert {p.next(NOON).artwork_id for _ in range(20)} == {1}
    p.exclude(1)
    assert p.next(NOON) is None


def test_new_works_join_without_restart():
    p = Programme(ShowSettings(no_repeat=0, fresh_hours=0), seed=0)
    p.update([entry(1)])
    assert p.next(NOON).artwork_id == 1
    p.update([entry(1), entry(2)])
    assert 2 in {p.next(NOON).artwork_id for _ in range(10)}


def test_opening_hours_per_weekday_and_timezone():
    s = ShowSettings(opening_hours={"wed": ["10:00-13:00", "14:00-18:00"], "thu": []}, timezone="Europe/Berlin")
    p = Programme(s)
    berlin = lambda h, m=0, day=25: datetime(2026, 11, day, h, m, tzinfo=UTC) - timedelta(hours=1)  # noqa: E731
    assert not p.is_open(berlin(9, 59))
    assert p.is_open(berlin(10, 0))
    assert not p.is_open(berlin(13, 30))  # lunch break
    assert p.is_open(berlin(17, 59))
    assert not p.is_open(berlin(18, 0))
    assert not p.is_open(berlin(12, day=26))  # thursday: closed all day
    assert p.is_open(berlin(3, day=27))  # friday not listed: open all day
    nxt = p.next_opening(berlin(18, 5))
    assert (nxt.weekday(), nxt.hour) == (4, 0)  # Friday 00:00 Berlin


@pytest.mark.parametrize(("bad", "word"), [
    ({"opening_hours": {"wednesday": []}}, "weekday"),
    ({"opening_hours": {"mon": ["10-18"]}}, "HH:MM"),
    ({"opening_hours": {"mon": ["18:00-10:00"]}}, "ends before"),
    ({"weights": {"painting": 1}}, "unknown kind"),
    ({"weights": {"image": -1}}, "negative"),
    ({"transitions": ["spin"]}, "unknown transition"),
    ({"timezone": "Mars/Olympus"}, "time zone"),
    ({"transition_seconds": 7, "durations": {"image": 10}}, "half the shortest"),
])
def test_bad_settings_say_what_is_wrong(bad, word):
    with pytest.raises(ValidationError, match=word):
        ShowSettings(**bad)


def test_durations_per_kind():
    s = ShowSettings(durations={"image": 9.0}, default_duration=7.0, max_item_seconds=30, transition_seconds=1)
    assert duration_for(s, "image", None) == 9.0
    assert duration_for(s, "mix", None) == 7.0
    assert duration_for(s, "walk", 12.5) == 12.5  # a video plays its own length
    assert duration_for(s, "walk", 600) == 30  # capped
    assert duration_for(s, "image", 50) == 9.0  # a still's own duration is ignored


def test_previous_goes_back_then_resumes():
    p = Programme(ShowSettings(no_repeat=3, fresh_hours=0), seed=0)
    p.update([entry(i) for i in range(5)])
    a, b = p.next(NOON).artwork_id, p.next(NOON).artwork_id
    assert p.previous().artwork_id == a
    assert p.next(NOON).artwork_id == b  # the item we stepped back from comes back next


def test_catalogue_source_reads_pairs_and_hides(settings, catalogue, tmp_path):
    img = catalogue.add(image_draft(1))
    hidden = catalogue.add(image_draft(2))
    catalogue.set_status(hidden, "hidden", "curator")
    vid = catalogue.add(video_draft(tmp_path, seconds=1.0))
    paired = catalogue.add(sound_draft(1.0, pair_with=vid))
    alone = catalogue.add(sound_draft(2.5, freq=440, seed=2))
    src = CatalogueSource(catalogue, show_settings(settings))
    got = {e.artwork_id: e for e in src.refresh(0.0)}
    assert set(got) == {img, vid, alone}  # the paired sound plays with its visual, not on its own
    assert got[vid].visual.kind == "video" and got[vid].sound_id == paired and got[vid].audio is not None
    assert got[alone].visual.kind == "image" and got[alone].audio is not None
    assert got[img].audio is None and got[img].label[0] == "Composition 1"
    # a 1 s video is held on its last frame to fit two 0.5 s transitions and 0.5 s of its own
    assert got[vid].duration == 1.5 and got[alone].duration == 2.5  # an unpaired sound: its own length


def test_catalogue_unavailable_keeps_known_and_retries(settings, catalogue):
    catalogue.add(image_draft(1))
    s = show_settings(settings, refresh_seconds=30, retry_seconds=5)
    src = CatalogueSource(catalogue, s)
    known = src.refresh(0.0)
    assert len(known) == 1 and src.next_read == 30.0

    def broken(**kw):
        raise OSError("database is locked")
    real = catalogue.read
    catalogue.read = broken
    assert src.refresh(30.0) == known  # keeps playing what it knew
    assert "database is locked" in src.last_error and src.next_read == 35.0
    catalogue.read = real
    catalogue.add(image_draft(2))
    assert len(src.refresh(35.0)) == 2 and src.last_error is None


def test_previous_with_an_item_decoded_ahead():
    p = Programme(ShowSettings(no_repeat=3, fresh_hours=0), seed=0)
    p.update([entry(i) for i in range(5)])
    a, b, c = (p.next(NOON).artwork_id for _ in range(3))  # c was chosen ahead, not shown yet
    assert p.previous(prefetched=c).artwork_id == a
    assert [p.next(NOON).artwork_id for _ in range(2)] == [b, c]


def test_catalogue_source_reads_incrementally(settings, catalogue, tmp_path):
    from catalogue.models import Artwork

    ids = [catalogue.add(image_draft(i)) for i in range(5)]
    src = CatalogueSource(catalogue, show_settings(settings), chunk=2)
    assert len(src.refresh(0.0)) == 5 and src.built == 5
    assert len(src.refresh(30.0)) == 5 and src.built == 5  # nothing new: nothing rebuilt
    new = catalogue.add(image_draft(9))
    with catalogue.write() as s:
        s.get(Artwork, ids[0]).title = "Renamed by the curator"
    got = {e.artwork_id: e for e in src.refresh(60.0)}
    assert src.built == 7 and new in got and got[ids[0]].title == "Renamed by the curator"
    catalogue.set_status(ids[1], "hidden", "curator")
    vid = ids[2]
    snd = catalogue.add(sound_draft(1.0, pair_with=vid))  # a new pairing re-builds its visual
    got = {e.artwork_id: e for e in src.refresh(90.0)}
    assert ids[1] not in got and snd not in got and got[vid].sound_id == snd and src.built == 8
