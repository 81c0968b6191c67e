"""CIDs, UnixFS directories and CAR archives; cross-checked against npm ipfs-car."""

from __future__ import annotations

import hashlib
import os
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
    with pytest.raises(BadInput, match="too big"):
        directory_node({str(i): b"" for i in range(1001)})


@pytest.mark.node
def test_cids_and_car_match_ipfs_car(sample_dir, tmp_path):
    if not IPFS_CAR.exists():
        pytest.skip("ipfs-car is not installed: run `make node-deps`")
    node = directory_node(tree_of(sample_dir))
    out = tmp_path / "theirs.car"
    r = subprocess.run(["node", str(IPFS_CAR), "pack", str(sample_dir), "--output", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(node.cid)
    roots, blocks = read_car(out.read_bytes())
    assert roots == [node.cid]
    assert set(blocks) == {c for c, _ in node.blocks}
    # one file alone (no wrapping): the same CID as ours, including the chunked one
    for name in ("a.png", "big.mp4", "exact.bin"):
        r = subprocess.run(["node", str(IPFS_CAR), "pack", str(sample_dir / "media" / name), "--no-wrap", "--output",
                            str(tmp_path / "f.car")], capture_output=True, text=True, timeout=60)
        assert r.stdout.strip() == str(file_cid((sample_dir / "media" / name).read_bytes())), name
    # and ipfs-car reads our CAR back into the same files
    ours = tmp_path / "ours.car"
    ours.write_bytes(car_bytes([node.cid], node.blocks))
    back = tmp_path / "back"
    r = subprocess.run(["node", str(IPFS_CAR), "unpack", str(ours), "--output", str(back)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for f in sample_dir.rglob("*"):
        if f.is_file():
            assert (back / f.relative_to(sample_dir)).read_bytes() == f.read_bytes(), f


def test_a_file_changed_before_the_car_is_written_is_refused(tmp_path):
    from minting.cid import write_car

    f = tmp_path / "v.mp4"
    f.write_bytes(b"a" * 1000)
    node = directory_node({"v.mp4": f})
    f.write_bytes(b"b" * 1000)
    with pytest.raises(BadInput, match="v.mp4 changed while the CAR was being written"):
        write_car(tmp_path / "x.car", [node.cid], node.blocks)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]  # no partial CAR left behind
