"""The renderer through Mesa's EGL (llvmpipe): transitions, fit, label, texture reuse."""

from __future__ import annotations

import numpy as np
import pytest

from generator import procedural
from installation.render import Renderer, fit_scale, offscreen_target

pytestmark = pytest.mark.gl


def setup(ctx, w=64, h=64, fit="contain"):
    return Renderer(ctx, w, h, fit), offscreen_target(ctx, w, h)


def test_crossfade_pixels_match_the_expected_mix(gl_ctx):
    r, fbo = setup(gl_ctx)
    a, b = procedural.draw(1, 64), procedural.draw(2, 64)
    r.upload(0, a)
    r.upload(1, b)
    for t in (0.0, 0.25, 0.5, 0.8, 1.0):
        r.draw(fbo, a=0, b=1, t=t, mode="crossfade")
        got = r.read(fbo).astype(np.float32)
        want = (1 - t) * a.astype(np.float32) + t * b.astype(np.float32)
        assert np.abs(got - want).max() <= 1.5, t
    r.release()


def test_wipe_and_dissolve_are_different_transitions(gl_ctx):
    r, fbo = setup(gl_ctx)
    r.upload(0, np.full((8, 8, 3), (250, 0, 0), np.uint8))
    r.upload(1, np.full((8, 8, 3), (0, 0, 250), np.uint8))
    r.draw(fbo, a=0, b=1, t=0.5, mode="wipe")
    img = r.read(fbo)
    assert img[:, :20, 2].min() > 240 and img[:, -20:, 0].min() > 240  # B on the left, A on the right
    r.draw(fbo, a=0, b=1, t=0.5, mode="dissolve")
    img = r.read(fbo)
    blue = (img[:, :, 2] > 200).mean()
    assert 0.3 < blue < 0.7  # scattered, about half
    assert not ((img[:, :32, 2] > 200).all() or (img[:, 32:, 0] > 200).all())
    for mode in ("wipe", "dissolve"):
        r.draw(fbo, a=0, b=1, t=0.0, mode=mode)
        assert r.read(fbo)[:, :, 0].min() > 240
        r.draw(fbo, a=0, b=1, t=1.0, mode=mode)
        assert r.read(fbo)[:, :, 2].min() > 240
    r.release()


def test_contain_letterboxes_and_cover_fills(gl_ctx):
    wide = np.full((20, 40, 3), 200, np.uint8)  # 2:1 picture on a 16:9 screen
    r, fbo = setup(gl_ctx, 64, 36, "contain")
    r.upload(0, wide)
    r.draw(fbo, a=0, b=None)
    img = r.read(fbo)
    # 64 px wide -> 32 px tall, centred: two bars of 2 rows
    assert img[:1].max() == 0 and img[-1:].max() == 0 and img[4:32].min() >= 195
    r.release()
    r, fbo = setup(gl_ctx, 64, 36, "cover")
    tall = np.full((40, 20, 3), 200, np.uint8)
    r.upload(0, tall)
    r.draw(fbo, a=0, b=None)
    assert r.read(fbo).min() >= 195  # no bars: the picture is cropped to fill
    r.release()
    assert fit_scale(40, 20, 64, 36, "contain") == pytest.approx((1.0, 2 / (64 / 36)))


def test_picture_is_upright(gl_ctx):
    r, fbo = setup(gl_ctx, 16, 16)
    img = np.zeros((16, 16, 3), np.uint8)
    img[:8] = (255, 255, 255)  # white top half
    r.upload(0, img)
    r.draw(fbo, a=0, b=None)
    out = r.read(fbo)
    assert out[:7].min() > 250 and out[9:].max() < 5
    r.release()


def test_frames_reuse_one_texture_and_label_fades(gl_ctx):
    r, fbo = setup(gl_ctx, 320, 180)
    for i in range(50):
        r.upload(0, np.full((32, 32, 3), i, np.uint8))
    assert r.textures_created == 1 and r.live_textures == 1
    r.upload(0, np.zeros((16, 32, 3), np.uint8))  # a new size replaces (releases) the old texture
    assert r.live_textures == 1 and r.textures_released == 1
    r.set_text("label", ("Composition 1", "image · 24 November 2026", "seed 1"))
    r.draw(fbo, a=None, b=None, texts={"label": (0.0, "label")})
    assert r.read(fbo).max() == 0
    r.draw(fbo, a=None, b=None, texts={"label": (1.0, "label")})
    lit = r.read(fbo)
    assert lit[100:, :160].max() > 200 and lit[:60, 160:].max() == 0  # bottom left only
    r.set_text("label", ("Another",))
    assert r.live_textures == 2
    r.release()
    assert r.live_textures == 0


def test_fade_in_from_black(gl_ctx):
    r, fbo = setup(gl_ctx, 16, 16)
    r.upload(1, np.full((8, 8, 3), 200, np.uint8))
    r.draw(fbo, a=None, b=1, t=0.5)
    assert abs(int(r.read(fbo).mean()) - 100) <= 2
    r.release()


def test_fitted_stills_are_drawn_texel_for_texel(gl_ctx):
    from installation.media import fit_picture

    wide = procedural.draw(4, 60)[:30]  # 60x30, 2:1
    c = fit_picture(wide, 64, 36, "contain")
    assert c.shape == (36, 64, 4) and c[:2, :, :3].max() == 0 and c[-2:, :, :3].max() == 0  # bars
    assert c[2:34, :, :3].reshape(-1, 3).max(axis=0).min() > 0
    cov = fit_picture(procedural.draw(5, 40), 64, 36, "cover")  # square: cropped top and bottom
    assert cov.shape == (36, 64, 4) and (cov[:, :, 3] == 255).all()
    r, fbo = setup(gl_ctx, 64, 36)
    r.upload(0, c)
    r.upload(1, cov)
    r.draw(fbo, a=0, b=None)
    assert np.array_equal(r.read(fbo), c[:, :, :3])  # 1:1, nothing resampled
    r.draw(fbo, a=0, b=1, t=0.3)
    want = 0.7 * c[:, :, :3].astype(np.float32) + 0.3 * cov[:, :, :3]
    assert np.abs(r.read(fbo).astype(np.float32) - want).max() <= 1.5
    r.release()


def test_a_screen_size_picture_is_drawn_texel_for_texel_however_it_came(gl_ctx):
    import moderngl

    noise = np.random.default_rng(3).integers(0, 256, (36, 64, 4), dtype=np.uint8)  # e.g. a video frame
    r, fbo = setup(gl_ctx, 64, 36)
    r.upload(0, noise)  # not marked as fitted: the size alone decides
    assert r.exact[0] and r.slots[0].filter == (moderngl.NEAREST, moderngl.NEAREST)
    r.draw(fbo, a=0, b=None)
    assert np.array_equal(r.read(fbo), noise[:, :, :3])  # no half-texel shift, no blur
    r.upload(1, noise[::-1].copy())
    r.draw(fbo, a=0, b=1, t=0.5)
    want = 0.5 * noise[:, :, :3].astype(np.float32) + 0.5 * noise[::-1, :, :3]
    assert np.abs(r.read(fbo).astype(np.float32) - want).max() <= 1.0
    r.upload(0, noise[:12, :32].copy())  # another size: scaled by the GPU again
    assert not r.exact[0] and r.slots[0].filter == (moderngl.LINEAR, moderngl.LINEAR)
    r.release()


def test_contain_bars_are_cleared_not_shaded_with_the_same_pixels(gl_ctx):
    rng = np.random.default_rng(5)
    square = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    tall = rng.integers(0, 256, (30, 12, 3), dtype=np.uint8)
    r, fbo = setup(gl_ctx, 64, 36, "contain")
    r.upload(0, square)
    r.upload(1, tall)
    assert r.picture_area(0, None) == (14, 0, 50, 36)  # 36x36 in the middle of 64x36
    assert r.picture_area(1, None) == (24, 0, 40, 36)  # 14.4 px wide, rounded outwards
    assert r.picture_area(0, 1) == (14, 0, 50, 36)
    cases = [{"a": 0, "b": None}, {"a": 0, "b": 1, "t": 0.4, "mode": "crossfade"}, {"a": 0, "b": 1, "t": 0.6, "mode": "wipe"},
             {"a": 0, "b": 1, "t": 0.5, "mode": "dissolve"}, {"a": None, "b": 1, "t": 0.5}]
    got = []
    for kw in cases:
        fbo.clear(1.0, 1.0, 1.0, 1.0)  # whatever was on screen before must not show in the bars
        r.draw(fbo, **kw)
        got.append(r.read(fbo).copy())
    assert got[0][:, :14].max() == 0 and got[0][:, 50:].max() == 0 and got[0][:, 14:50].max() > 0
    full = r.picture_area
    r.picture_area = lambda a, b: (0, 0, 64, 36)  # the whole screen shaded, as before
    for kw, g in zip(cases, got, strict=True):
        fbo.clear(1.0, 1.0, 1.0, 1.0)
        r.draw(fbo, **kw)
        assert np.array_equal(r.read(fbo), g), kw
    r.picture_area = full
    r.release()


def test_an_unscaled_picture_is_sampled_nearest_with_linear_s_pixels(gl_ctx):
    import moderngl

    pic = np.random.default_rng(6).integers(0, 256, (36, 36, 3), dtype=np.uint8)  # 36x36 in the middle of 64x36
    r, fbo = setup(gl_ctx, 64, 36, "contain")
    r.upload(0, pic)
    assert not r.exact[0] and r.slots[0].filter == (moderngl.NEAREST, moderngl.NEAREST)
    r.draw(fbo, a=0, b=None)
    out = r.read(fbo)
    assert np.array_equal(out[:, 14:50], pic) and out[:, :14].max() == 0 and out[:, 50:].max() == 0
    r.slots[0].filter = (moderngl.LINEAR, moderngl.LINEAR)
    r.draw(fbo, a=0, b=None)
    assert np.array_equal(r.read(fbo), out)
    r.upload(0, pic[:, :35].copy())  # 35 px: a half-pixel offset, so it stays linear
    assert r.slots[0].filter == (moderngl.LINEAR, moderngl.LINEAR)
    r.upload(0, pic[:20, :20].copy())  # enlarged by the GPU
    assert r.slots[0].filter == (moderngl.LINEAR, moderngl.LINEAR)
    r.release()


def test_transitions_between_two_screen_size_stills_read_one_interleaved_texture(gl_ctx):
    rng = np.random.default_rng(7)
    a, b, c = (rng.integers(0, 256, (36, 64, 4), dtype=np.uint8) for _ in range(3))
    pair, single = setup(gl_ctx, 64, 36)[0], Renderer(gl_ctx, 64, 36, "contain")
    fbo = offscreen_target(gl_ctx, 64, 36)
    pair.pack_stills = True  # on by itself on software rasterisers (llvmpipe here), off on GPUs
    pair.upload(0, a, still=True)
    pair.upload(1, b, still=True)
    single.upload(0, a)  # as video frames: two textures
    single.upload(1, b)
    for kw in ({"t": 0.3, "mode": "crossfade"}, {"t": 0.5, "mode": "wipe"}, {"t": 0.5, "mode": "dissolve"},
               {"t": 0.7, "mode": "crossfade", "a": 1, "b": 0}):
        kw = {"a": 0, "b": 1, **kw}
        pair.draw(fbo, **kw)
        got = pair.read(fbo).astype(np.int16)
        assert pair._pair_key is not None and pair._pair_key[0] == kw["a"]
        single.draw(fbo, **kw)
        assert np.abs(got - single.read(fbo)).max() <= 1, kw
    want = 0.7 * a[:, :, :3].astype(np.float32) + 0.3 * b[:, :, :3]
    pair.draw(fbo, a=0, b=1, t=0.3)
    assert np.abs(pair.read(fbo) - want).max() <= 1.5
    pair.upload(1, c, still=True)  # the next still: packed again
    pair.draw(fbo, a=0, b=1, t=0.3)
    want = 0.7 * a[:, :, :3].astype(np.float32) + 0.3 * c[:, :, :3]
    assert np.abs(pair.read(fbo) - want).max() <= 1.5
    pair.upload(1, b)  # a video frame: back to two textures, the pair texture kept (no growth)
    key = pair._pair_key
    pair.draw(fbo, a=0, b=1, t=0.3)
    assert pair._pair_key == key and pair.live_textures == 3
    pair.release()
    single.release()
    assert pair.live_textures == 0


def test_big_stills_are_shrunk_on_the_decode_thread_small_ones_left_to_the_gpu():
    from installation.media import shrink_to_screen

    small = procedural.draw(1, 64)
    out = shrink_to_screen(small, 320, 180, "contain")
    assert out is small  # enlarged by the GPU
    big = np.ascontiguousarray(np.broadcast_to(procedural.draw(2, 400), (400, 400, 3)))
    out = shrink_to_screen(big, 320, 180, "contain")
    assert out.shape == (180, 180, 3)  # not the screen's size: scaled, bars drawn by the GPU
    wide = procedural.draw(3, 640)[:360]  # 16:9, bigger than the screen: exactly the screen
    out = shrink_to_screen(wide, 320, 180, "contain")
    assert out.shape == (180, 320, 4)  # the screen's size: drawn texel for texel
    out = shrink_to_screen(big, 320, 180, "cover")
    assert out.shape == (180, 320, 4)
