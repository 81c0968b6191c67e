"""Many screens, one clock: the parts without GL (offsets, schedule, layouts, config, the UDP service)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from gallery.errors import BadInput
from installation import watermark
from installation.layouts import Layout, layout_for
from installation.programme import Entry, MediaRef
from installation.sync_clock import OffsetFilter, Timeline, exchange
from installation.sync_follower import SyncNode
from installation.sync_schedule import Playlist, ordered
from installation.sync_settings import SyncSettings
from tests.installation.sync_helpers import free_ports

CREATED = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # naive UTC, as the catalogue stores it


def entry(i: int, d: float, kind: str = "image") -> Entry:
    return Entry(i, kind, f"w{i}", CREATED, d, MediaRef(Path(f"/x/{i}"), f"{i:064x}", "image"))


def test_exchange_gives_offset_and_delay():
    # server 0.5 s ahead, 10 ms each way, 2 ms inside the server
    t0 = 100.0
    t1 = t0 + 0.010 + 0.5
    t2 = t1 + 0.002
    t3 = t2 - 0.5 + 0.010
    off, delay = exchange(t0, t1, t2, t3)
    assert off == pytest.approx(0.5) and delay == pytest.approx(0.020)
    # asymmetric paths: the error is at most half the delay
    off, delay = exchange(0.0, 0.5 + 0.018, 0.5 + 0.018, 0.020)
    assert abs(off - 0.5) <= delay / 2 + 1e-12


def test_filter_takes_the_median_and_rejects_slow_exchanges():
    f = OffsetFilter(window=9, max_delay=0.05)
    rng = np.random.default_rng(1)
    for _ in range(20):
        assert f.add(0.2 + rng.normal(0, 0.0005), 0.001)
    assert not f.add(0.9, 0.2)  # over max_delay
    assert not f.add(0.6, 0.01)  # 10x the least delay in the window
    assert f.offset == pytest.approx(0.2, abs=0.001) and f.rejected == 2
    for _ in range(2):  # two wild but fast answers move the median little
        f.add(0.35, 0.001)
    assert f.offset == pytest.approx(0.2, abs=0.002)


def test_filter_follows_a_clock_step_within_three_exchanges():
    f = OffsetFilter(window=15, max_delay=0.05)
    for _ in range(15):
        f.add(0.0, 0.001)
    for _ in range(3):
        f.add(-0.2, 0.001)
    assert f.offset == pytest.approx(-0.2) and f.steps == 1


def test_playlist_is_a_function_of_epoch_and_time():
    items = [entry(1, 2.0), entry(2, 3.0, "walk"), entry(3, 5.0)]
    a, b = Playlist("p", items), Playlist("p", list(items))
    assert a.version == b.version and a.version != Playlist("p", items[::-1]).version
    epoch = 1000.0
    for t in (1000.0, 1001.9, 1002.0, 1004.99, 1005.0, 1010.0 + 7.5, 999.0):
        sa, sb = a.slot_at(epoch, t), b.slot_at(epoch, t)
        assert sa == sb and sa.start <= t < sa.start + sa.duration
    assert [a.slot_at(epoch, epoch + x).entry.artwork_id for x in (0.5, 2.5, 5.5, 10.5, 12.5)] == [1, 2, 3, 1, 2]
    assert a.slot_at(epoch, epoch + 10.5).number == 3


def test_group_slots_show_item_i_on_screen_i_and_last_as_the_longest():
    items = [entry(i, 2.0 + i) for i in range(1, 7)]
    screens = [Playlist("p", items, (i, 3)) for i in range(3)]
    slots = [pl.slot_at(0.0, 0.1) for pl in screens]
    assert [s.entry.artwork_id for s in slots] == [1, 2, 3] and {s.duration for s in slots} == {5.0}
    later = [pl.slot_at(0.0, 5.1) for pl in screens]
    assert [s.entry.artwork_id for s in later] == [4, 5, 6] and later[0].members == (4, 5, 6)


def test_orders_are_deterministic():
    items = [entry(i, 2.0, "walk" if i % 3 else "image") for i in range(10)]
    assert ordered(items, "shuffle", 5) == ordered(items, "shuffle", 5) != items
    kinds = [e.kind for e in ordered(items, "balanced", None)]
    assert kinds[:6] == ["image", "walk"] * 3


def cfg(**kw) -> SyncSettings:
    ports = free_ports(3)
    base = {"leader": "a", "successors": ["b"], "screens": {
        n: {"address": f"127.0.0.1:{p}"} for n, p in zip("abc", ports, strict=True)}}
    base.update(kw)
    return SyncSettings(**base)


def test_span_viewports_hide_the_bezels():
    c = cfg(canvas={"columns": 3, "rows": 1, "bezel_mm": [10, 0], "pixels_per_mm": 2.0},
            screens={n: {"address": f"127.0.0.1:{9000 + i}", "layout": "span", "column": i}
                     for i, n in enumerate("abc")})
    lays = [layout_for(c, n, (100, 50)) for n in "abc"]
    assert lays[0].canvas == (340, 50)  # 3 x 100 + 2 bezels of 20 px
    assert [la.origin for la in lays] == [(0, 0), (120, 0), (240, 0)]
    from installation.layouts import SpanTarget

    assert SpanTarget(None, None, lays[1]).viewport == (-120, 0, 340, 50)


def test_config_errors_name_the_key(config_file, tmp_path):
    from gallery.config import load_settings

    bad = {
        "leader: z": "show.sync.leader",
        "leader: a\n    sound: q": "show.sync.sound",
        "leader: a\n    successors: [y]": "show.sync.successors",
    }
    for text, key in bad.items():
        p = tmp_path / "c.yaml"
        p.write_text(config_file.read_text() + f"show:\n  sync:\n    {text}\n    screens:\n"
                     "      a: {address: '127.0.0.1:9001'}\n      b: {address: '127.0.0.1:9002'}\n")
        with pytest.raises(BadInput) as e:
            load_settings(p, environ={})
        assert key in str(e.value), str(e.value)
    p = tmp_path / "c.yaml"
    p.write_text(config_file.read_text() + "show:\n  sync:\n    leader: a\n    screens:\n"
                 "      a: {address: 'nope'}\n")
    with pytest.raises(BadInput, match="address"):
        load_settings(p, environ={})


def test_cli_refuses_an_unknown_screen(config_file):
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["-c", str(config_file), "show", "--sync", "follower", "--screen", "x", "--headless", "--record",
              "/tmp/x.mp4", "--seconds", "1"])
    assert e.value.code == 2


def test_watermark_round_trip():
    rgb = np.full((90, 200, 3), 77, np.uint8)
    m = watermark.read(watermark.stamp(rgb, 51234567890, 1765000000123, 0x35))
    assert m == {"frame": 51234567890, "true_ms": 1765000000123, "tag": 0x35, "check": m["check"]}
    rgb[5, 6] = 255 - rgb[5, 6]
    rgb[1:3, 1:3] = 255 - rgb[1:3, 1:3]  # a bit flipped: refused, not misread
    assert watermark.read(rgb) is None


def test_timeline_change_applies_at_its_time():
    tl = Timeline(0.0, "a", "v1", change_at=10.0, change_programme="b", change_version="v2")
    assert tl.at(9.999) == (0.0, "a", "v1") and tl.at(10.0) == (10.0, "b", "v2")
    tl.settle(10.5)
    assert (tl.epoch, tl.programme, tl.change_at) == (10.0, "b", None)


def test_follower_pulls_in_a_skewed_clock_and_a_successor_takes_over():
    c = cfg(exchange_seconds=0.05, leader_timeout_s=0.4)
    leader = SyncNode(c, "a", "leader", Timeline(123.0, "all", "v1"))
    b = SyncNode(c, "b", "follower", environ={"GALLERY_SYNC_SKEW_MS": "200"})
    f = SyncNode(c, "c", "follower", environ={"GALLERY_SYNC_SKEW_MS": "-200"})
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and (b.filter.accepted < 5 or f.filter.accepted < 5):
            time.sleep(0.02)
        for node in (b, f):
            assert abs(node.shared() - leader.shared()) < 0.003, node.report()
        assert b.current().epoch == 123.0
        time.sleep(0.3)
        assert {s["screen"] for s in leader.server.followers()} == {"b", "c"}
        leader.close()
        gone = time.monotonic()
        while time.monotonic() - gone < 5 and not (b.role == "leader" and f.leader_name == "b"
                                                   and f.leader_alive):
            time.sleep(0.02)
        handover = time.monotonic() - gone
        assert b.role == "leader" and f.leader_name == "b", (b.report(), f.report())
        assert handover < 2.0
        assert b.current().epoch == 123.0  # the same schedule goes on
        assert abs(f.shared() - b.shared()) < 0.005
    finally:
        for node in (leader, b, f):
            node.close()


def _png(tmp: Path, name: str, rgb: np.ndarray) -> MediaRef:
    from generator.samples import png_bytes

    p = tmp / f"{name}.png"
    p.write_bytes(png_bytes(rgb))
    return MediaRef(p, name.ljust(64, "0"), "image")


@pytest.mark.gl
def test_span_screens_are_the_canvas_less_the_bezels_and_group_screens_show_their_item(gl_ctx, tmp_path):
    from installation.render import Renderer, offscreen_target
    from installation.settings import ShowSettings
    from installation.sync_show import SyncPlayer

    ss = ShowSettings(transition_seconds=0.2, label=False, fit="cover", http_port=0)
    yy, xx = np.mgrid[0:60, 0:200]
    art = np.stack([xx * 255 // 199, yy * 255 // 59, (xx + yy) % 256], -1).astype(np.uint8)
    e = Entry(1, "image", "wall", CREATED, 5.0, _png(tmp_path, "wall", art))
    c = SyncSettings(leader="a", canvas={"columns": 3, "rows": 1, "bezel_px": [10, 0]},
                     screens={n: {"address": f"127.0.0.1:{9100 + i}", "layout": "span", "column": i}
                              for i, n in enumerate("abc")})
    size = (60, 40)
    lays = [layout_for(c, n, size) for n in "abc"]
    whole = Layout("mirror", lays[0].canvas, (0, 0), lays[0].canvas)

    def draw(layout) -> np.ndarray:
        from installation.layouts import SpanTarget

        r = Renderer(gl_ctx, *layout.canvas, ss.fit)
        fbo = offscreen_target(gl_ctx, *layout.screen)
        p = SyncPlayer(ss, r, layout)
        try:
            target = SpanTarget(fbo, gl_ctx, layout) if layout.spans else fbo
            p.frame(100.5, target, Playlist("p", [e]), 100.0)
            w, h = layout.screen
            return np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(h, w, 3)[::-1]
        finally:
            p.close()
            r.release()
            fbo.release()

    canvas = draw(whole)
    assert canvas.shape == (40, 200, 3)
    for la in lays:
        x = la.origin[0]
        part = draw(la)
        assert np.abs(part.astype(int) - canvas[:, x:x + 60].astype(int)).max() <= 2, la
    # group: screen i shows item i of each group of three
    colours = [(200, 0, 0), (0, 200, 0), (0, 0, 200)]
    items = [Entry(10 + i, "image", f"g{i}", CREATED, 4.0,
                   _png(tmp_path, f"g{i}", np.full((20, 20, 3), col, np.uint8))) for i, col in enumerate(colours)]
    for i, col in enumerate(colours):
        la = Layout("group", size, (0, 0), size, (i, 3))
        r = Renderer(gl_ctx, *size, ss.fit)
        fbo = offscreen_target(gl_ctx, *size)
        p = SyncPlayer(ss, r, la)
        p.frame(1.0, fbo, Playlist("p", items, (i, 3)), 0.0)
        px = np.frombuffer(fbo.read(components=3, alignment=1), np.uint8).reshape(40, 60, 3)
        assert tuple(int(v) for v in px[20, 30]) == col
        p.close()
        r.release()
        fbo.release()


@pytest.mark.gl
def test_sound_plays_its_channel_and_joins_part_way(gl_ctx, tmp_path):
    from generator.samples import wav_bytes
    from installation.audio import RecordAudio
    from installation.render import Renderer, offscreen_target
    from installation.settings import ShowSettings
    from installation.sync_show import SyncPlayer

    ss = ShowSettings(transition_seconds=0.2, label=False, http_port=0, loudness_target=None)
    sr = 44100
    ramp = np.linspace(0.0, 0.5, 4 * sr)  # the level says how far into the sound we are
    wav = tmp_path / "s.wav"
    wav.write_bytes(wav_bytes(ramp, sr))
    e = Entry(1, "image", "w", CREATED, 4.0, _png(tmp_path, "p", np.full((8, 8, 3), 90, np.uint8)),
              audio=MediaRef(wav, "a" * 64, "audio"), sound_id=1)
    r = Renderer(gl_ctx, 32, 32, ss.fit)
    fbo = offscreen_target(gl_ctx, 32, 32)
    audio = RecordAudio(sr, 1.0)
    p = SyncPlayer(ss, r, Layout("mirror", (32, 32), (0, 0), (32, 32)), audio, channel="left")
    try:
        p.frame(2.0, fbo, Playlist("p", [e]), 0.0, audio_t=0.0)  # joins 2 s into the item
        track = audio.render(0.5)
    finally:
        p.close()
        r.release()
        fbo.release()
    assert np.abs(track[:, 1]).max() == 0  # its channel only
    first = track[2205:4410, 0].astype(float) / 32767  # 50-100 ms in: past the fade-in
    assert first.mean() == pytest.approx(0.25 + 0.5 * 0.075 / 4, abs=0.01)  # 2 s into a 4 s ramp to 0.5
