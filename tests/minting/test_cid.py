"""CIDs, UnixFS directories and CAR archives; cross-checked against npm ipfs-car."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from gallery.errors import BadInput
from minting.cid import CHUNK_SIZE, CID, RAW, car_bytes, directory_node, file_cid, file_node, read_car

REPO = Path(__file__).resolve().parents[2]
IPFS_CAR = REPO / "minting" / "contracts" / "node_modules" / "ipfs-car" / "bin.js"


def tree_of(p: Path) -> dict:
    return {c.name: (tree_of(c) if c.is_dir() else c) for c in p.iterdir()}


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    d = tmp_path / "set"
    (d / "media" / "deep").mkdir(parents=True)
    (d / "1").write_bytes(b'{"name":"one"}\n')
    (d / "2").write_bytes(b"")
    (d / "media" / "a.png").write_bytes(os.urandom(5000))
    (d / "media" / "big.mp4").write_bytes(os.urandom(2 * CHUNK_SIZE + 12345))  # three chunks
    (d / "media" / "exact.bin").write_bytes(os.urandom(CHUNK_SIZE))  # exactly one chunk: a raw block
    (d / "media" / "deep" / "é.txt").write_bytes(b"unicode name")
    return d


def test_raw_cid_is_sha256_multihash_in_base32():
    c = file_cid(b"hello world")
    assert c.codec == RAW and c.digest == hashlib.sha256(b"hello world").digest()
    assert str(c) == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert CID.parse(str(c)) == c
    with pytest.raises(BadInput, match="CID"):
        CID.parse("Qm" + "x" * 44)


def test_car_roundtrip_checks_every_block(sample_dir):
    node = directory_node(tree_of(sample_dir))
    data = car_bytes([node.cid], node.blocks)
    roots, blocks = read_car(data)
    assert roots == [node.cid]
    assert set(blocks) == {c for c, _ in node.blocks}
    big = file_node((sample_dir / "media" / "big.mp4").read_bytes())
    assert len(big.blocks) == 4 and big.size > 2 * CHUNK_SIZE  # 3 raw leaves + 1 dag-pb node
    # files are read from disk 1 MiB at a time and stay there until the CAR is written: same blocks
    from minting.cid import FileSlice

    assert file_node(sample_dir / "media" / "big.mp4").cid == big.cid
    assert any(isinstance(b, FileSlice) for _, b in node.blocks)
    i = data.index(b"unicode name")
    with pytest.raises(BadInput, match="does not match"):
        read_car(data[:i] + b"U" + data[i + 1:])


def test_directory_names_are_checked():
    with pytest.raises(BadInput, match="bad file name"):
        directory_node({"a/b": b"x"})
    with pytest.raises(BadInput, match="bad file name"):
        directory_node({str(i): b"" for i in range(1001)} | {"..": b""})  # a sharded one too


# -- a reader of dag-pb / UnixFS nodes, written from the specs, to walk our HAMTs ---------------

def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    from minting.cid import read_varint

    out, p = [], 0
    while p < len(buf):
        key, p = read_varint(buf, p)
        if key & 7 == 0:
            v, p = read_varint(buf, p)
        elif key & 7 == 2:
            n, p = read_varint(buf, p)
            v, p = buf[p:p + n], p + n
        else:
            raise AssertionError(f"unexpected wire type {key & 7}")
        out.append((key >> 3, v))
    return out


def _pb(body: bytes) -> tuple[dict[int, list], list[tuple[CID, str, int]]]:
    """(UnixFS Data fields by number, links as (cid, name, tsize))."""
    from minting.cid import _cid_from_bytes

    data, links = {}, []
    for num, v in _fields(body):
        if num == 1:
            for n, x in _fields(v):
                data.setdefault(n, []).append(x)
        else:
            link = dict(_fields(v))
            links.append((_cid_from_bytes(link[1]), link[2].decode(), link[3]))
    return data, links


def _murmur64(b: bytes) -> bytes:
    import mmh3

    h1, _ = mmh3.hash64(b, seed=0, x64arch=True, signed=False)
    return h1.to_bytes(8, "big")


def _lookup(blocks: dict[CID, bytes], root: CID, name: str, cache: dict) -> tuple[CID, int]:
    """Find a name in a HAMT-sharded directory the way a reader does (spec: UnixFS HAMTDirectory);
    returns (cid, depth of the shard that holds it)."""
    node, depth = root, 0
    while True:
        if node not in cache:
            cache[node] = _pb(blocks[node])
        data, links = cache[node]
        assert data[1] == [5] and data[5] == [0x22] and data[6] == [256]
        frame = depth // 8
        slot = _murmur64(name.encode() + (bytes([frame]) if frame else b""))[depth % 8]
        bits = int.from_bytes(data[2][0], "big")
        assert bits >> slot & 1, (name, depth)
        prefix = f"{slot:02X}"
        hits = [ln for ln in links if ln[1].startswith(prefix)]
        assert len(hits) == 1
        cid, link_name, _ = hits[0]
        if link_name == prefix:
            node, depth = cid, depth + 1
            continue
        assert link_name == prefix + name
        return cid, depth


def test_big_directories_are_hamt_sharded():
    from minting.cid import SHARD_THRESHOLD

    flat = directory_node({f"{i}.json": str(i).encode() for i in range(SHARD_THRESHOLD)})
    data, links = _pb(dict(flat.blocks)[flat.cid])
    assert data == {1: [1]} and len(links) == SHARD_THRESHOLD  # 1,000 entries: one flat directory
    names = [f"{i}.json" for i in range(3000)] + ["é-ü.png", "sub"]
    tree = {n: n.encode() for n in names}
    tree["sub"] = {"x.txt": b"x"}
    node = directory_node(tree)
    blocks = dict(node.blocks)
    depths, cache = [], {}
    for n in names:
        cid, depth = _lookup(blocks, node.cid, n, cache)
        want = directory_node(tree["sub"]).cid if n == "sub" else file_cid(n.encode())
        assert cid == want, n
        depths.append(depth)
    assert max(depths) >= 2 and min(depths) >= 1  # 3,000 names in 256 slots: every slot is a sub-shard
    # every shard: bitfield = the slots of its links (leading zero bytes dropped), Tsize sums up
    shards = [c for c, b in blocks.items() if c.codec == 0x70 and _pb(b)[0].get(1) == [5]]
    for c in shards:
        data, links = _pb(blocks[c])
        bits = data[2][0]
        assert bits[0] != 0 and len(bits) <= 32
        assert int.from_bytes(bits, "big") == sum(1 << int(n[:2], 16) for _, n, _ in links)
        assert [n for _, n, _ in links] == sorted(n for _, n, _ in links)
    root_links = _pb(blocks[node.cid])[1]
    assert node.size == len(blocks[node.cid]) + sum(t for _, _, t in root_links)
    roots, back = read_car(car_bytes([node.cid], node.blocks))
    assert roots == [node.cid] and set(back) == set(blocks)
    # one more entry changes the root, the same entries in another order do not
    assert directory_node(dict(reversed(list(tree.items())))).cid == node.cid
    assert directory_node(tree | {"extra": b""}).cid != node.cid


def _same_as_ipfs_car(src: Path, node, tmp_path: Path) -> Path:
    """ipfs-car packs src into the same root CID and blocks as our node, and unpacks our CAR: the
    folder it unpacked to."""
    out = tmp_path / "theirs.car"
    r = subprocess.run(["node", str(IPFS_CAR), "pack", str(src), "--output", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(node.cid)
    roots, theirs = read_car(out.read_bytes())
    assert roots == [node.cid]
    assert set(theirs) == {c for c, _ in node.blocks}
    ours = tmp_path / "ours.car"
    ours.write_bytes(car_bytes([node.cid], node.blocks))
    back = tmp_path / "back"
    r = subprocess.run(["node", str(IPFS_CAR), "unpack", str(ours), "--output", str(back)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return back


@pytest.mark.node
def test_cids_and_car_match_ipfs_car(sample_dir, tmp_path):
    if not IPFS_CAR.exists():
        pytest.skip("ipfs-car is not installed: run `make node-deps`")
    node = directory_node(tree_of(sample_dir))
    back = _same_as_ipfs_car(sample_dir, node, tmp_path)
    # one file alone (no wrapping): the same CID as ours, including the chunked one
    for name in ("a.png", "big.mp4", "exact.bin"):
        r = subprocess.run(["node", str(IPFS_CAR), "pack", str(sample_dir / "media" / name), "--no-wrap", "--output",
                            str(tmp_path / "f.car")], capture_output=True, text=True, timeout=60)
        assert r.stdout.strip() == str(file_cid((sample_dir / "media" / name).read_bytes())), name
    # and ipfs-car read our CAR back into the same files
    for f in sample_dir.rglob("*"):
        if f.is_file():
            assert (back / f.relative_to(sample_dir)).read_bytes() == f.read_bytes(), f


@pytest.mark.node
def test_sharded_directories_match_ipfs_car(tmp_path):
    """1,500 files at the root, 3,000 in media/ (with a nested folder), and 1,000 / 1,001 entries
    either side of ipfs-car's threshold: same root CID, same blocks, and ipfs-car unpacks our CAR."""
    if not IPFS_CAR.exists():
        pytest.skip("ipfs-car is not installed: run `make node-deps`")
    d = tmp_path / "set"
    for sub in ("media/deep", "edge1000", "edge1001"):
        (d / sub).mkdir(parents=True)
    for i in range(1, 1501):
        (d / str(i)).write_bytes(b'{"name":"token %d"}' % i)
    for i in range(3000):
        (d / "media" / f"{i:04d}-é.png").write_bytes(b"img%d" % i)
    (d / "media" / "deep" / "a.txt").write_bytes(b"nested")
    for n in (1000, 1001):
        for i in range(n):
            (d / f"edge{n}" / f"f{i}").write_bytes(b"")
    node = directory_node(tree_of(d))
    assert _pb(dict(node.blocks)[node.cid])[0][1] == [5]
    back = _same_as_ipfs_car(d, node, tmp_path)
    files = [f for f in d.rglob("*") if f.is_file()]
    assert len(files) == 1500 + 3001 + 2001
    for f in files:
        assert (back / f.relative_to(d)).read_bytes() == f.read_bytes(), f
    assert sum(1 for f in back.rglob("*") if f.is_file()) == len(files)


@pytest.mark.node
def test_hamt_slots_match_perma_map_at_every_depth():
    """Depths 8 and on rehash the name with a byte appended: too deep for any real directory to reach,
    so the slot function is compared with @perma/map's own at those depths."""
    import json

    from minting.cid import _hamt_slot

    if not IPFS_CAR.exists():
        pytest.skip("ipfs-car is not installed: run `make node-deps`")
    names = ["a", "é.png", "1234", "", "x" * 40]
    depths = [0, 1, 7, 8, 9, 15, 16, 17, 300]
    js = ("import { config } from '@perma/map/unixfs';"
          "const names = JSON.parse(process.argv[1]), depths = JSON.parse(process.argv[2]);"
          "console.log(JSON.stringify(names.map(n => depths.map(d => config.Path.at(config.Path.from(n), d)))))")
    r = subprocess.run(["node", "--input-type=module", "-e", js, json.dumps(names), json.dumps(depths)],
                       cwd=IPFS_CAR.parents[2], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [[_hamt_slot(n.encode(), k) for k in depths] for n in names]


def test_a_file_changed_before_the_car_is_written_is_refused(tmp_path):
    from minting.cid import write_car

    f = tmp_path / "v.mp4"
    f.write_bytes(b"a" * 1000)
    node = directory_node({"v.mp4": f})
    f.write_bytes(b"b" * 1000)
    with pytest.raises(BadInput, match=re.escape("v.mp4 changed while the CAR was being written")):
        write_car(tmp_path / "x.car", [node.cid], node.blocks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]  # no partial CAR left behind
