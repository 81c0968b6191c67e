"""Programmes: sets in order, saved queries, new works since, order policies, hold caps, the timetable.

Show-level tests step ``Show.frame`` on a fake clock with a recording renderer (no GL) and the recording
mixer; policy tests drive the programme logic directly.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from catalogue.models import Collection, CollectionItem
from gallery.errors import BadInput
from generator.samples import image_draft, sound_draft, video_draft
from installation import hooks
from installation.audio import RecordAudio
from installation.programme import CatalogueSource, Entry, MediaRef, Programme
from installation.programmes import Programmes
from installation.settings import ShowSettings
from installation.show import Show
from tests.installation.helpers import show_settings

WED_0959 = datetime(2026, 11, 25, 9, 59, 50, tzinfo=UTC)  # a Wednesday


class FakeRenderer:
    """What the show asks of a renderer, recorded: which slots each drawn frame showed."""

    def __init__(self, w: int = 32, h: int = 18) -> None:
        self.width, self.height = w, h
        self.texts: dict = {}
        self.live_textures = 3
        self.draws: list[tuple] = []

    def upload(self, slot, rgb, still=False):
        pass

    def set_text(self, name, lines, px=None, colour=(0, 0, 0)):
        self.texts[name] = (None, 0, 0, (lines, px, colour))

    def draw(self, fbo, *, a, b, t=0.0, mode="crossfade", dim=1.0, texts=None, keep=False):
        self.draws.append((a, b, mode))


class FakeViews:
    """The sound views (piano roll, spectrogram) without GL: where each slot's playhead was drawn."""

    def __init__(self) -> None:
        self.positions: dict[int, float] = {}

    def load(self, slot, view):
        self.positions[slot] = 0.0

    def draw(self, slot, position, fbo=None):
        self.positions[slot] = position
        return True

    def at(self, slot, position):
        return position

    def release(self):
        pass


def make_show(settings, catalogue, wall_start=WED_0959, **kw):
    s = show_settings(settings, **kw)
    audio = RecordAudio(s.sample_rate)
    show = Show(s, FakeRenderer(), audio, source=CatalogueSource(catalogue, s), catalogue=catalogue,
                wall_start=wall_start)
    show.views = FakeViews()
    return show, audio


def play(show: Show, start: float, seconds: float, fps: float = 10, audio=None, each=None) -> list:
    """Step the show; the items that went on screen as (start time, entry), in order."""
    seen: dict[int, object] = getattr(show, "_test_seen", {})
    show._test_seen = seen
    out = []
    for i in range(int(round(seconds * fps))):
        t = start + i / fps
        show.frame(t, None)
        if audio is not None:
            audio.advance(t + 1 / fps)
        if each is not None:
            each(t)
        for p in (show.current, show.incoming):
            if p is not None and id(p) not in seen:
                seen[id(p)] = p  # kept, so that ids are not reused
                out.append((p.start, p.prep.entry, p.transition))
    return out


def add_set(catalogue, title: str, ids: list[int]) -> int:
    """A set whose curated order is ``ids`` (positions written out of insertion order)."""
    with catalogue.write() as s:
        c = Collection(title=title)
        s.add(c)
        s.flush()
        for pos, aid in sorted(enumerate(ids), key=lambda x: -x[0]):
            s.add(CollectionItem(collection_id=c.id, artwork_id=aid, position=10 * pos))
        return c.id


@pytest.fixture
def fake_queries():
    """A saved-query resolver as curation registers one: name -> ids (BadInput for an unknown name)."""
    saved: dict[str, list[int]] = {}

    def resolve(catalogue, name):
        if name not in saved:
            raise BadInput(f"no saved query {name!r}")
        return saved[name]

    hooks.register_query_resolver(resolve)
    yield saved
    hooks.register_query_resolver(None)


# ---- sets, queries, hidden works -----------------------------------------------------------------------
def test_a_set_plays_only_its_works_in_its_curated_order(settings, catalogue):
    ids = [catalogue.add(image_draft(i, size=16)) for i in range(6)]
    order = [ids[4], ids[1], ids[5], ids[0]]
    add_set(catalogue, "Evening light", order)
    show, _ = make_show(settings, catalogue, programmes={"evening": {"set": "Evening light"}},
                        programme="evening", durations={"image": 2.0})
    items = play(show, 0.0, 20.0)
    seq = [e.artwork_id for _, e, _ in items]
    assert len(seq) >= 9 and seq == (order * 5)[:len(seq)]
    assert show.status()["programme"] == "evening" and show.late == 0
    show.close()


def test_a_set_by_id_and_a_saved_query_in_its_order(settings, catalogue, fake_queries):
    ids = [catalogue.add(image_draft(i, size=16)) for i in range(5)]
    sid = add_set(catalogue, "S", [ids[2], ids[3]])
    fake_queries["blues"] = [ids[3], ids[0], 99999, ids[4]]  # an id that is no work is passed over
    show, _ = make_show(settings, catalogue, programmes={"s": {"set": sid}, "q": {"query": "blues"}},
                        programme="q")
    seq = [e.artwork_id for _, e, _ in play(show, 0.0, 12.0)]
    assert seq[:6] == [ids[3], ids[0], ids[4]] * 2
    show.switch_programme("s")
    seq = [e.artwork_id for _, e, _ in play(show, 12.0, 10.0)]
    assert set(seq[1:]) == {ids[2], ids[3]}
    show.close()


def test_hidden_works_never_appear_even_in_a_set_or_query(settings, catalogue, fake_queries):
    ids = [catalogue.add(image_draft(i, size=16)) for i in range(6)]
    catalogue.set_status(ids[1], "hidden", "curator")
    add_set(catalogue, "Mixed", ids[:4])
    fake_queries["all of them"] = list(ids)
    show, _ = make_show(settings, catalogue, programmes={"set": {"set": "Mixed"}, "q": {"query": "all of them"}},
                        programme="set", refresh_seconds=1.0)
    first = [e.artwork_id for _, e, _ in play(show, 0.0, 10.0)]
    assert ids[1] not in first and set(first) == {ids[0], ids[2], ids[3]}
    catalogue.set_status(ids[2], "hidden", "curator")  # hidden while playing: out at the next read
    later = [(t, e.artwork_id) for t, e, _ in play(show, 10.0, 20.0)]
    assert ids[1] not in [a for _, a in later]
    # read at 10 s: the item decoded ahead (due at 10.5 s) is dropped, the one on screen plays out
    assert ids[2] not in [a for t, a in later if t >= 10.0] and ids[2] in first
    show.switch_programme("q")
    q = [e.artwork_id for _, e, _ in play(show, 30.0, 20.0)]
    assert ids[1] not in q and ids[2] not in q and {ids[4], ids[5]} <= set(q)
    show.close()


def test_a_programme_with_nothing_to_play_falls_back_to_the_default(settings, catalogue):
    ids = [catalogue.add(image_draft(i, size=16)) for i in range(3)]
    add_set(catalogue, "Gone", [ids[0]])
    catalogue.set_status(ids[0], "hidden", "curator")
    show, _ = make_show(settings, catalogue, programmes={"gone": {"set": "Gone"}, "missing": {"set": "No such set"}})
    show.switch_programme("gone")
    seq = [e.artwork_id for _, e, _ in play(show, 0.0, 8.0)]
    assert seq and ids[0] not in seq  # the default (all works) plays instead, not the waiting card
    show.switch_programme("missing")
    assert [e for _, e, _ in play(show, 8.0, 6.0)]
    assert "No such set" in " ".join(show.errors)
    show.close()


# ---- switching at the next item --------------------------------------------------------------------------
def test_timetable_boundary_switches_at_the_next_item_not_mid_item(settings, catalogue):
    morning = [catalogue.add(image_draft(i, size=16)) for i in range(3)]
    evening = [catalogue.add(image_draft(10 + i, size=16)) for i in range(3)]
    add_set(catalogue, "M", morning)
    add_set(catalogue, "E", evening)
    # 09:59:50 on: the boundary at 10:00:00 is show time 10 s, in the middle of an item of 6 s
    show, _ = make_show(settings, catalogue, durations={"image": 6.0},
                        programmes={"am": {"set": "M", "transitions": ["wipe"]},
                                    "pm": {"set": "E", "transitions": ["dissolve"]}},
                        timetable=[{"days": "daily", "from": "09:00", "to": "10:00", "programme": "am"},
                                   {"days": ["wed"], "from": "10:00", "to": "12:00", "programme": "pm"}])
    r = show.r
    items = play(show, 0.0, 30.0)
    starts = [(t, e.artwork_id, mode) for t, e, mode in items]
    assert [a for t, a, _ in starts if t < 10] == morning[:2]  # 0 s and 5.5 s
    assert all(a in evening for t, a, _ in starts if t >= 10)
    on_screen = [p for p in show._test_seen.values() if p.start < 10 <= p.start + p.duration]
    assert len(on_screen) == 1 and on_screen[0].prep.entry.artwork_id == morning[1]
    first_pm = min(t for t, a, _ in starts if t >= 10)
    assert first_pm == pytest.approx(on_screen[0].end - show.s.transition_seconds)  # played out in full
    assert [m for t, a, m in starts if t >= 10] == ["dissolve"] * len([1 for t, a, _ in starts if t >= 10])
    assert [m for t, a, m in starts if 0 < t < 10] == ["wipe"]
    assert all(a is not None for a, b, m in r.draws)  # never a black frame: always a picture
    assert show.status()["programme"] == "pm" and show.late == 0
    show.close()


def test_switch_programme_by_name_back_to_timetable_and_unknown(settings, catalogue):
    ids = [catalogue.add(image_draft(i, size=16)) for i in range(6)]
    add_set(catalogue, "Two", ids[:2])
    show, _ = make_show(settings, catalogue, durations={"image": 4.0},
                        programmes={"two": {"set": "Two"}, "all": {"order": "curated"}})  # all: newest first
    assert show.programme_names() == ["all", "two"]
    play(show, 0.0, 1.0)
    current = show.current
    assert current.prep.entry.artwork_id == ids[5] and show.pending_id == ids[4]
    show.switch_programme("two")
    assert show.status()["programme"] == "two"
    items = play(show, 1.0, 12.0)
    assert current.prep.entry.artwork_id == show._test_seen[id(current)].prep.entry.artwork_id
    assert items[0][0] == pytest.approx(current.end - show.s.transition_seconds)  # the current one played out
    assert {e.artwork_id for _, e, _ in items} <= set(ids[:2])
    with pytest.raises(BadInput, match=r"unknown programme 'nope' \(known: all, two\)"):
        show.switch_programme("nope")
    show.switch_programme(None)
    assert show.status()["programme"] == "all"
    show.close()


def test_reload_works_rereads_at_the_next_frame(settings, catalogue):
    catalogue.add(image_draft(1, size=16))
    show, _ = make_show(settings, catalogue, refresh_seconds=1000.0)
    play(show, 0.0, 1.0)
    new = catalogue.add(image_draft(2, size=16))
    play(show, 1.0, 1.0)
    assert new not in show.programme.entries
    show.reload_works()
    play(show, 2.0, 0.2)
    assert new in show.programme.entries
    show.close()


# ---- hold caps ---------------------------------------------------------------------------------------------
def test_hold_caps_for_stills_and_sound_only_works(settings, catalogue, tmp_path):
    still = catalogue.add(image_draft(1, size=16))
    sound = catalogue.add(sound_draft(10.0, freq=440))
    vid = catalogue.add(video_draft(tmp_path, seconds=6.0, fps=5))
    show, audio = make_show(settings, catalogue, durations={"image": 20.0, "soundscape": 20.0},
                            programmes={"short": {"order": "curated", "still_seconds": 3.0, "sound_seconds": 4.0}},
                            programme="short", transition_seconds=0.5)
    audio.sink = None
    items = play(show, 0.0, 36.0, audio=audio)
    by_id = {e.artwork_id: e for _, e, _ in items}
    assert by_id[still].duration == 3.0 and by_id[sound].duration == 4.0
    assert by_id[vid].duration == pytest.approx(6.0)  # a video is not capped
    starts = [(t, e.artwork_id) for t, e, _ in items]
    for (t0, a), (t1, _) in zip(starts, starts[1:], strict=False):
        held = t1 + 0.5 - t0  # until the transition to the next one is over
        assert held <= {still: 3.0, sound: 4.0, vid: 6.0}[a] + 0.11
    # the sound (10 s long) fades out at its cap: silence from the cap until it plays again
    track = audio.render(36.0).astype(np.float32)
    t_sound = [t for t, a in starts if a == sound]
    after = [t for t, _ in starts if t > t_sound[0]][1]  # the item after the next begins well before it returns
    rms = lambda a, b: float(np.sqrt(np.mean(track[int(a * 44100):int(b * 44100)] ** 2)))  # noqa: E731
    assert rms(t_sound[0] + 0.5, t_sound[0] + 3.0) > 1000
    assert rms(t_sound[0] + 4.05, after) == 0.0
    show.close()


# ---- policies (pure logic) ----------------------------------------------------------------------------------
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def entry(i: int, kind: str = "image", age_h: float = 24 * 30) -> Entry:
    c = (NOON - timedelta(hours=age_h)).replace(tzinfo=None)
    sid = i if kind in ("soundscape", "melody") else None
    return Entry(artwork_id=i, kind=kind, title=f"w{i}", created=c, duration=10.0, sound_id=sid,
                 visual=MediaRef(Path(f"/x/{i}"), f"{i:064d}", "image"))


def picks(spec: dict, entries: list[Entry], n: int, seed: int | None = None, now: datetime = NOON) -> list[Entry]:
    """n items as the show takes them: chosen, then started."""
    s = ShowSettings(programmes={"p": spec}, programme="p", fresh_hours=0)
    prog = Programme(s, seed=0)
    prog.update(entries)
    progs = Programmes(s, prog.weighted, seed=seed)
    out = []
    for _ in range(n):
        e = prog.next(now, lambda pool, t: progs.choose(pool, t)[1])
        progs.started("p", e, prog.playable(), now)
        out.append(e)
    return out


def test_balanced_never_lets_a_kind_dominate():
    rnd = random.Random(5)
    kinds = ["image"] * 20 + ["walk"] * 4 + ["melody"] * 1 + ["soundscape"] * 3 + ["mix"] * 7
    rnd.shuffle(kinds)
    seq = [e.kind for e in picks({"order": "balanced"}, [entry(i, k) for i, k in enumerate(kinds)], 300)]
    k = len(set(kinds))
    for n in range(1, 40):
        for a in range(len(seq) - n + 1):
            counts = Counter(seq[a:a + n])
            assert max(counts.values()) <= n / k + 1, (n, a, counts)
    # every work of a kind comes round before any of that kind repeats
    images = [e.artwork_id for e in picks({"order": "balanced"}, [entry(i, k) for i, k in enumerate(kinds)], 300)
              if e.kind == "image"]
    assert len(set(images[:20])) == 20
    # the weighted draw, by contrast, lets the big kind dominate some window
    w = [e.kind for e in picks({"order": "weighted"}, [entry(i, k) for i, k in enumerate(kinds)], 300, seed=1)]
    assert any(max(Counter(w[a:a + 10]).values()) > 10 / k + 1 for a in range(290))


def test_seeded_shuffle_is_reproducible_and_reshuffled_each_pass():
    works = [entry(i) for i in range(12)]
    a = [e.artwork_id for e in picks({"order": "shuffle", "seed": 7}, works, 48)]
    b = [e.artwork_id for e in picks({"order": "shuffle", "seed": 7}, works, 48)]
    c = [e.artwork_id for e in picks({"order": "shuffle", "seed": 8}, works, 48)]
    assert a == b and a != c
    passes = [a[i:i + 12] for i in range(0, 48, 12)]
    assert all(sorted(p) == list(range(12)) for p in passes)  # each pass plays every work once
    assert len({tuple(p) for p in passes}) == 4  # a new order each pass
    assert all(p[-1] != q[0] for p, q in zip(passes, passes[1:], strict=False))  # no back-to-back repeat
    assert passes[0] != sorted(passes[0])
    # the show's seed is the default seed of a programme without its own
    d = [e.artwork_id for e in picks({"order": "shuffle"}, works, 24, seed=7)]
    assert d == a[:24]


def test_new_works_since_a_duration_or_a_date_newest_first():
    works = [entry(1, age_h=2), entry(2, age_h=30), entry(3, age_h=10), entry(4, age_h=24 * 10)]
    assert [e.artwork_id for e in picks({"since": "24h"}, works, 4)] == [1, 3, 1, 3]
    assert [e.artwork_id for e in picks({"since": "2d"}, works, 3)] == [1, 3, 2]
    day = (NOON - timedelta(days=3)).date().isoformat()
    assert {e.artwork_id for e in picks({"since": day, "order": "shuffle", "seed": 1}, works, 6)} == {1, 2, 3}


@pytest.mark.gl
def test_demo_preview_plays_the_curated_set_as_a_programme(settings, catalogue, tmp_path, monkeypatch):
    import installation.demo as demo
    from gallery.demo import DemoContext

    monkeypatch.setattr(demo, "PREVIEW_SECONDS", 6.0)
    ids = [catalogue.add(image_draft(i, size=32)) for i in range(5)]
    cid = add_set(catalogue, "Demo: the whole catalogue", [ids[3], ids[1]])
    dc = DemoContext(settings=settings, catalogue=catalogue, out_dir=tmp_path, quick=True)
    dc.results["curation"] = {"set": cid}
    res = demo.preview_step(dc)
    assert res["programme"] == "demo set" and res["items"] >= 2 and res["skipped"] == 0
    assert (tmp_path / "show-preview.mp4").is_file()
