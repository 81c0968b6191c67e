"""Features, the vector index, search with filters, selection, sets, export and queueing generation."""

from __future__ import annotations

import json
import zipfile

import cv2
import numpy as np
import pytest

from curation import features as F
from curation import sets
from curation.embed import HistEncoder
from curation.index import VectorIndex, get_index
from curation.indexer import index_catalogue
from curation.search import Filters, Searcher, parse_range
from curation.select import coverage, mmr, near_duplicates
from gallery.errors import BadInput
from tests.curation.helpers import draw, fill, image_draft, png, sound_draft


# ---- features ------------------------------------------------------------------------------------
def test_image_features_follow_the_pictures():
    white = F.image_features(draw("circle", "red", "white"))
    black = F.image_features(draw("circle", "red", "black"))
    grey = F.image_features(np.full((64, 64, 3), 128, np.uint8))
    assert white["brightness"] > 0.7 > 0.3 > black["brightness"]
    assert abs(grey["brightness"] - 128 / 255) < 0.01 and grey["contrast"] < 1e-3
    assert white["colourfulness"] > 0.1 > grey["colourfulness"]
    sharp = draw("square", "black", "white", size=128)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 4)
    assert F.image_features(sharp)["sharpness"] > F.image_features(blurred)["sharpness"] + 0.5
    dom = white["dominant_colours"].reshape(3, 4)
    assert np.allclose(dom[0, :3], np.array([245, 245, 245]) / 255, atol=0.05)  # white covers most
    assert dom[0, 3] > dom[1, 3] and abs(dom[:, 3].sum() - 1) < 1e-5


def test_phash_is_robust_to_resizing_but_not_to_content():
    a = draw("circle", "red", "white", size=128)
    a_small = cv2.resize(a, (64, 64), interpolation=cv2.INTER_AREA)
    b = draw("square", "blue", "black", size=128)
    assert F.hamming(F.phash(a), F.phash(a_small)) <= 4
    assert F.hamming(F.phash(a), F.phash(b)) > 12


def test_sound_features():
    sr = 22050
    t = np.arange(sr) / sr
    quiet_low = F.sound_features(0.05 * np.sin(2 * np.pi * 220 * t), sr)
    loud_high = F.sound_features(0.5 * np.sin(2 * np.pi * 3000 * t), sr)
    assert abs(loud_high["loudness"] - 20 * np.log10(0.5 / np.sqrt(2))) < 0.1
    assert loud_high["loudness"] - quiet_low["loudness"] == pytest.approx(20.0, abs=0.1)
    assert abs(quiet_low["spectral_centroid"] - 220) < 40 and abs(loud_high["spectral_centroid"] - 3000) < 60


def test_bad_media_is_named():
    with pytest.raises(BadInput, match=r"upload\.png: not a readable image"):
        F.decode_image(b"not a png", what="upload.png")
    with pytest.raises(BadInput, match=r"clip\.wav: not a readable PCM WAV"):
        F.read_wav(b"RIFF....junk", what="clip.wav")


# ---- indexing and search ------------------------------------------------------------------------
@pytest.fixture
def filled(settings, catalogue):
    ids = fill(catalogue)
    rep = index_catalogue(catalogue, HistEncoder())
    assert sorted(rep.indexed) == sorted(ids.values()) and not rep.skipped
    return ids, Searcher(settings, catalogue, HistEncoder())


def test_index_is_incremental_and_skips_corrupt_media(settings, catalogue, filled):
    ids, _sr = filled
    assert index_catalogue(catalogue, HistEncoder()).up_to_date == len(ids)
    bad = catalogue.add(image_draft(draw("circle", "green", "black"), "to be corrupted"))
    art = catalogue.get(bad)
    for m in art.media:
        p = catalogue.media_path(m)
        p.chmod(0o644)
        p.write_bytes(b"garbage")
    snd = catalogue.add(sound_draft(440.0, 0.3, "tone"))
    rep = index_catalogue(catalogue, HistEncoder())
    assert rep.indexed == [snd]
    assert rep.skipped and rep.skipped[0][0] == bad and "not a readable image" in rep.skipped[0][1]
    from curation.search import feature_table

    ft = feature_table(catalogue, [snd])[snd]
    assert ft["loudness"] == pytest.approx(20 * np.log10(0.3 / np.sqrt(2)), abs=0.2)


def test_feature_range_and_filters(filled):
    ids, sr = filled
    bright = sr.search(filters=Filters(ranges={"brightness": (0.6, 1.0)}), k=100)
    dark = sr.search(filters=Filters(ranges={"brightness": (0.0, 0.35)}), k=100)
    on_white = {v for k, v in ids.items() if k[2] == "white"}
    on_black = {v for k, v in ids.items() if k[2] == "black"}
    assert on_white <= {h.id for h in bright} and not on_black & {h.id for h in bright}
    assert {h.id for h in dark} == on_black
    reds = sr.search(filters=Filters(tags=["red", "circle"]), k=100)
    assert {h.id for h in reds} == {ids[("circle", "red", "white")], ids[("circle", "red", "black")]}
    assert sr.search(filters=Filters(kinds=["melody"]), k=10) == []
    assert parse_range("brightness=0.2:") == ("brightness", (0.2, np.inf))
    with pytest.raises(BadInput, match="unknown feature 'shine'"):
        parse_range("shine=0:1")
    with pytest.raises(BadInput, match="LO is above HI"):
        parse_range("brightness=0.5:0.1")


def test_more_like_this_by_example(filled):
    ids, sr = filled
    red_white = ids[("circle", "red", "white")]
    hits = sr.search(like=red_white, k=3)
    assert red_white not in [h.id for h in hits]
    assert hits[0].id == ids[("square", "red", "white")]  # same colours, other shape
    assert hits[0].score > hits[-1].score
    img_hits = sr.search(image=png(draw("square", "blue", "black", size=80)), k=1)
    assert img_hits[0].id == ids[("square", "blue", "black")]
    sr.cat.set_status(ids[("square", "red", "white")], "hidden", "test")  # hidden works are never found
    assert ids[("square", "red", "white")] not in [h.id for h in sr.search(like=red_white, k=20)]
    assert len(sr.search(like=red_white, k=20)) == len(ids) - 2
    assert ids[("square", "red", "white")] not in [h.id for h in sr.search(like=red_white, k=20,
                                                                             filters=Filters(tags=["red"]))]
    with pytest.raises(BadInput, match="text search needs the CLIP model"):
        sr.search(text="red circle")
    with pytest.raises(BadInput, match="no artwork 999"):
        sr.search(like=999)


# ---- the vector index ----------------------------------------------------------------------------
def _unit(rng, n, d):
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_faiss_flat_matches_brute_force_and_ivf_recall():
    rng = np.random.default_rng(0)  # clustered, as embeddings of a catalogue are
    vecs = (np.repeat(_unit(rng, 40, 32), 100, axis=0) + 0.08 * rng.standard_normal((4000, 32))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(100, 4100)
    flat = VectorIndex(ids, vecs, backend="faiss", ivf_threshold=10_000)
    brute = VectorIndex(ids, vecs, backend="numpy")
    ivf = VectorIndex(ids, vecs, backend="faiss", ivf_threshold=1000, nprobe=8)
    assert (flat.kind, brute.kind, ivf.kind) == ("faiss-flat", "numpy-flat", "faiss-ivf")
    recall = []
    for q in vecs[rng.choice(4000, 20)] + 0.05 * _unit(rng, 20, 32):
        exact = [a for a, _ in brute.search(q, 10)]
        assert [a for a, _ in flat.search(q, 10)] == exact
        recall.append(len(set(exact) & {a for a, _ in ivf.search(q, 10)}) / 10)
    assert np.mean(recall) >= 0.9
    allowed = set(range(100, 4100, 7))
    got = flat.search(vecs[5], 5, allowed=allowed)
    assert all(a in allowed for a, _ in got) and len(got) == 5


def test_index_persists_and_rebuilds_when_stale(settings, catalogue, filled):
    ids, _sr = filled
    enc = HistEncoder()
    idx = get_index(settings, catalogue, "emb_hist", enc.model_sha256)
    assert len(idx) == len(ids)
    saved = settings.path(settings.curation.index_dir) / "emb_hist.json"
    assert json.loads(saved.read_text())["stamp"]["count"] == len(ids)
    new = catalogue.add(image_draft(draw("square", "yellow", "black"), "new one"))
    index_catalogue(catalogue, enc)
    idx2 = get_index(settings, catalogue, "emb_hist", enc.model_sha256)
    assert len(idx2) == len(ids) + 1 and idx2.has(new)
    saved.write_text("{broken")  # an unreadable stamp: rebuilt, not a crash
    from curation import index as I

    I._CACHE.clear()
    assert len(get_index(settings, catalogue, "emb_hist", enc.model_sha256)) == len(ids) + 1


# ---- selection ----------------------------------------------------------------------------------
def test_mmr_trades_relevance_for_variety():
    # Two tight clusters near the query (A is nearer) and one far cluster.
    rng = np.random.default_rng(1)
    centres = np.eye(3, dtype=np.float32)
    q = np.array([1.0, 0.6, 0.0], np.float32)
    q /= np.linalg.norm(q)
    vecs = np.concatenate([c + 0.01 * rng.standard_normal((5, 3)) for c in centres]).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = list(range(15))
    plain = mmr(q, ids, vecs, 3, variety=0.0)
    assert plain == [int(i) for i in np.argsort(-(vecs @ q))[:3]] and all(i < 5 for i in plain)
    varied = mmr(q, ids, vecs, 3, variety=0.5)
    assert {i // 5 for i in varied} == {0, 1, 2} or {i // 5 for i in varied} >= {0, 1}
    assert len({i // 5 for i in varied}) > len({i // 5 for i in plain})
    cov = coverage(ids, vecs, 3)
    assert sorted(i // 5 for i in cov) == [0, 1, 2]
    with pytest.raises(BadInput, match="variety must be between"):
        mmr(q, ids, vecs, 3, variety=1.5)


def test_near_duplicates_by_hash_and_embedding():
    a = draw("circle", "red", "white", size=128)
    a2 = cv2.resize(cv2.resize(a, (100, 100)), (128, 128))
    b = draw("square", "blue", "black", size=128)
    c = draw("square", "green", "yellow", size=128, offset=20)
    hashes = np.stack([F.phash(x) for x in (a, b, a2, c)])
    assert near_duplicates([1, 2, 3, 4], hashes=hashes, max_bits=4) == [[1, 3]]
    v = np.eye(4, dtype=np.float32)
    v[3] = v[1] * 0.99 + 0.01
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert near_duplicates([1, 2, 3, 4], vecs=v, min_cosine=0.97) == [[2, 4]]
    # A hash match must be confirmed by the embedding when there is one (colour variants hash alike).
    assert near_duplicates([1, 2, 3, 4], hashes=hashes, vecs=v, max_bits=4) == [[2, 4]]
    v[2] = v[0]
    assert near_duplicates([1, 2, 3, 4], hashes=hashes, vecs=v, max_bits=4) == [[1, 3], [2, 4]]


# ---- sets and export -------------------------------------------------------------------------------
def test_set_lifecycle(catalogue):
    ids = list(fill(catalogue).values())
    cid = sets.create(catalogue, "Reds", "warm things", ids[:3])
    assert sets.add(catalogue, cid, [ids[2], ids[3]]) == [ids[3]]
    sets.remove(catalogue, cid, [ids[0]])
    sets.reorder(catalogue, cid, [ids[3], ids[1], ids[2]])
    sets.move(catalogue, cid, ids[2], -1)
    sets.edit(catalogue, cid, title="Reds & more", description="<b>bold</b>")
    d = sets.as_dict(sets.show(catalogue, cid))
    assert d["items"] == [ids[3], ids[2], ids[1]] and d["title"] == "Reds & more"
    with pytest.raises(BadInput, match="give each of its artworks once"):
        sets.reorder(catalogue, cid, [ids[3], ids[3], ids[1]])
    with pytest.raises(BadInput, match="no artwork 9999"):
        sets.add(catalogue, cid, [9999])
    sets.freeze(catalogue, cid)
    with pytest.raises(BadInput, match="is frozen"):
        sets.add(catalogue, cid, [ids[5]])
    with pytest.raises(BadInput, match="no set 77"):
        sets.show(catalogue, 77)
    with pytest.raises(BadInput, match="needs a title"):
        sets.create(catalogue, "  ")
    assert [(c.id, n) for c, n in sets.ls(catalogue)] == [(cid, 3)]


@pytest.mark.parametrize("as_zip", [False, True])
def test_export_folder_and_zip(tmp_path, catalogue, as_zip):
    from curation.export import export_set

    ids = list(fill(catalogue).values())[:4]
    snd = catalogue.add(sound_draft(330.0, 0.2, "hum"))
    cid = sets.create(catalogue, "Export me", artwork_ids=ids + [snd])
    out = export_set(catalogue, cid, tmp_path / "out", as_zip=as_zip)
    if as_zip:
        assert out.suffix == ".zip"
        with zipfile.ZipFile(out) as z:
            z.extractall(tmp_path / "unz")
        out = tmp_path / "unz"
    man = json.loads((out / "manifest.json").read_text())
    assert [it["artwork"] for it in man["items"]] == ids + [snd]
    assert man["items"][-1]["recipe"] == {"generator": "test-tone", "freq": 330.0, "amp": 0.2}
    for it in man["items"]:
        for m in it["media"]:
            import hashlib

            assert hashlib.sha256((out / m["file"]).read_bytes()).hexdigest() == m["sha256"]
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[0] > 160 and sheet.shape[1] > 4 * 160
    with pytest.raises(BadInput, match="already exists"):
        export_set(catalogue, cid, tmp_path / ("out.zip" if as_zip else "out"), as_zip=as_zip)


# ---- back to generation ------------------------------------------------------------------------------
def test_variations_and_between_queue_runs_and_link_lineage(settings, catalogue, monkeypatch):
    from catalogue.models import Lineage, Run
    from curation.generate import link_lineage, queue_between, queue_variations, run_now
    from generator import registry

    monkeypatch.setitem(registry.KINDS, "test.latent",
                        registry.JobKind("test.latent", "tests.curation.test_core:render_latent"))
    z1 = [0.5, -1.0, 0.25, 2.0]
    z2 = [1.0, 1.0, -0.5, 0.0]
    a = catalogue.add(image_draft(draw("circle", "red", "white"), "A", recipe={"job_kind": "test.latent", "latent": z1}))
    b = catalogue.add(image_draft(draw("circle", "blue", "white"), "B", recipe={"job_kind": "test.latent", "z": z2}))
    plain = catalogue.add(image_draft(draw("square", "red", "white"), "no latent"))
    runs = queue_variations(catalogue, a, count=3, sigma=0.2, seed=5)
    again = queue_variations(catalogue, a, count=3, sigma=0.2, seed=5)  # seeded: the same latents again
    with catalogue.read() as s:
        rows = [s.get(Run, r) for r in runs]
        assert [s.get(Run, r).spec["job"]["params"]["latent"] for r in again] == [
            r.spec["job"]["params"]["latent"] for r in rows]
    assert all(r.state == "queued" and r.job_kind == "test.latent" for r in rows)
    lat = [np.asarray(r.spec["job"]["params"]["latent"]) for r in rows]
    assert all(0 < np.linalg.norm(v - np.asarray(z1)) < 1.5 for v in lat) and not np.allclose(lat[0], lat[1])
    assert np.isclose(np.linalg.norm(lat[0]), np.linalg.norm(z1), rtol=1e-5)
    assert rows[0].spec["job"]["parents"] == [[a, "variation"]]
    rb = queue_between(catalogue, a, b, steps=5)
    from curation.generate import queued

    assert [r.id for r in queued(catalogue)] == runs + again + [rb]
    made = run_now(settings, catalogue, runs[0]) + run_now(settings, catalogue, rb)
    assert len(made) == 2
    with catalogue.read() as s:
        lin = sorted((x.child_id, x.parent_id, x.relation) for x in s.query(Lineage))
    assert lin == sorted([(made[0], a, "variation"), (made[1], a, "between"), (made[1], b, "between")])
    assert link_lineage(catalogue) == 0  # idempotent
    with pytest.raises(BadInput, match="holds no latent position"):
        queue_variations(catalogue, plain)
    with pytest.raises(BadInput, match="two different artworks"):
        queue_between(catalogue, a, a)


def render_latent(params, ctx):
    """A test job kind: draws the latent as a grey level (stands in for a family's generator)."""
    z = np.asarray(params.get("latent") or params["keyframes"][len(params["keyframes"]) // 2], np.float32)
    level = int(np.clip(128 + 40 * z.mean(), 0, 255))
    return [image_draft(np.full((16, 16, 3), level, np.uint8), f"latent {level}",
                        recipe={"job_kind": "test.latent", "latent": z.tolist(), "seed": params["seed"]})]


def test_ivf_index_saves_and_loads(tmp_path):
    from curation.index import Stamp

    rng = np.random.default_rng(3)
    vecs = (np.repeat(_unit(rng, 20, 16), 100, axis=0) + 0.1 * rng.standard_normal((2000, 16))).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1, 2001)
    idx = VectorIndex(ids, vecs, ivf_threshold=1000, nprobe=4)
    stamp = Stamp("emb_test", "ab" * 32, 2000, "2026-01-01 00:00:00", int(ids.sum()))
    idx.save(tmp_path, stamp)
    back = VectorIndex.load(tmp_path, stamp, ivf_threshold=1000, nprobe=4)
    assert back is not None and back.kind == "faiss-ivf" and len(back) == 2000
    for q in vecs[:5]:
        assert back.search(q, 10) == idx.search(q, 10)
    assert np.array_equal(back.vector(7), vecs[6])
    stale = Stamp("emb_test", "ab" * 32, 2001, "2026-01-01 00:00:00", int(ids.sum()))
    assert VectorIndex.load(tmp_path, stale, ivf_threshold=1000) is None


def test_between_uses_the_families_own_jobs(catalogue):
    from catalogue.models import Run
    from curation.generate import queue_between

    def sg(seed, sha="f" * 64, **kw):
        return image_draft(draw("circle", "red", "white", offset=seed % 7), f"face {seed}", kind="walk",
                           recipe={"generator": "stylegan.walk", "model": {"name": "ffhq-tiny", "sha256": sha},
                                   "seed": seed, "psi": 0.7, "space": "z", **kw})

    a = catalogue.add(sg(11, mode="chain", keyframes=[11, 12, 13]))
    b = catalogue.add(sg(40))
    other_model = catalogue.add(sg(41, sha="e" * 64))
    m1 = catalogue.add(image_draft(draw("square", "blue", "white"), "m1", kind="melody",
                                   recipe={"generator": "musicvae", "bars": 2, "events": [0] * 32}))
    m2 = catalogue.add(image_draft(draw("square", "green", "white"), "m2", kind="melody",
                                   recipe={"generator": "musicvae", "bars": 2, "events": [1] * 32}))
    r1 = queue_between(catalogue, a, b, steps=6)
    r2 = queue_between(catalogue, m1, m2, steps=5)
    with catalogue.read() as s:
        j1, j2 = s.get(Run, r1).spec["job"], s.get(Run, r2).spec["job"]
    assert j1["kind"] == "stylegan.walk" and j1["params"]["keyframes"] == [11, 40]
    assert j1["params"]["mode"] == "chain" and j1["params"]["model"] == "ffhq-tiny" and j1["params"]["psi"] == 0.7
    assert j2["kind"] == "musicvae.interpolate"
    assert (j2["params"]["a"], j2["params"]["b"], j2["params"]["bars"]) == (f"artwork:{m1}", f"artwork:{m2}", 2)
    assert j2["parents"] == [[m1, "between"], [m2, "between"]]
    with pytest.raises(BadInput, match="no walk between artworks"):
        queue_between(catalogue, a, other_model)  # two checkpoints: no walk between them
