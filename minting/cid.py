"""Content addressing, done in Python: CIDv1, UnixFS files and directories, CAR archives.

Chosen to give the same CIDs as the npm `ipfs-car` tool (the test suite cross-checks them):
files are cut into 1 MiB raw-leaf chunks (a file of one chunk is a single `raw` block), bigger
files get a balanced dag-pb tree of width 1024, directories of up to 1,000 entries are flat dag-pb
UnixFS directories with links sorted by name, bigger ones are HAMT-sharded UnixFS directories laid
out as ipfs-car's `@ipld/unixfs` (with `@perma/map`) lays them out, every CID is v1 with sha2-256,
rendered in base32.

A HAMT shard (UnixFS type 5) has 256 slots; an entry's slot at depth d is byte d % 8 of the
murmur3-x64-64 hash (the first 64 bits of murmur3-x64-128, seed 0, big-endian) of its UTF-8 name
(depths 8-15 hash the name with the byte 1 appended, and so on). A slot holding one entry links to
it by the two upper-case hex digits of the slot plus the name ("0Aimage.png"); a slot holding more
links, by the two digits alone, to a sub-shard of those entries one level deeper. The node's Data
holds the bitfield of used slots (bit i of a 256-bit big-endian integer, leading zero bytes
dropped), hashType 0x22 (murmur3) and fanout 256.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mmh3

from gallery.errors import BadInput

RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
SHA2_256 = 0x12
CHUNK_SIZE = 1024 * 1024
LAYOUT_WIDTH = 1024
SHARD_THRESHOLD = 1000  # ipfs-car (unixfs.js) writes a HAMT-sharded directory above this many entries
HAMT_FANOUT = 256  # @perma/map/unixfs: bitWidth 8
MURMUR3_X64_64 = 0x22  # multicodec of the HAMT's hash
UNIXFS_DIRECTORY = 1
UNIXFS_FILE = 2
UNIXFS_HAMT_SHARD = 5


def varint(n: int) -> bytes:
    if n < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7


@dataclass(frozen=True, order=True)
class CID:
    """A CIDv1 with a sha2-256 multihash."""

    codec: int
    digest: bytes

    @classmethod
    def of(cls, codec: int, data: bytes) -> CID:
        return cls(codec, hashlib.sha256(data).digest())

    @property
    def bytes(self) -> bytes:
        return varint(1) + varint(self.codec) + varint(SHA2_256) + varint(len(self.digest)) + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(self.bytes).decode().lower().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> CID:
        if not text.startswith("b") or len(text) < 10:
            raise BadInput(f"not a base32 CIDv1: {text!r}")
        body = text[1:].upper()
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
            version, p = read_varint(raw, 0)
            codec, p = read_varint(raw, p)
            mh, p = read_varint(raw, p)
            ln, p = read_varint(raw, p)
        except (ValueError, base64.binascii.Error) as e:
            raise BadInput(f"not a base32 CIDv1: {text!r} ({e})") from None
        if version != 1 or mh != SHA2_256 or ln != 32 or len(raw) != p + 32:
            raise BadInput(f"unsupported CID (want v1, sha2-256): {text!r}")
        return cls(codec, raw[p:])


# -- protobuf (just what dag-pb and UnixFS need) ------------------------------------------------

def _field_bytes(num: int, data: bytes) -> bytes:
    return varint(num << 3 | 2) + varint(len(data)) + data


def _field_int(num: int, value: int) -> bytes:
    return varint(num << 3) + varint(value)


def _unixfs_data(kind: int, filesize: int | None = None, blocksizes: Iterable[int] = (), data: bytes | None = None,
                 hash_type: int | None = None, fanout: int | None = None) -> bytes:
    """The UnixFS Data message, fields in number order (Type 1, Data 2, filesize 3, blocksizes 4,
    hashType 5, fanout 6), absent ones left out."""
    out = _field_int(1, kind)
    if data:
        out += _field_bytes(2, data)
    if filesize is not None:
        out += _field_int(3, filesize)
    for b in blocksizes:
        out += _field_int(4, b)
    if hash_type is not None:
        out += _field_int(5, hash_type)
    if fanout is not None:
        out += _field_int(6, fanout)
    return out


def _pb_node(links: list[tuple[CID, str, int]], data: bytes) -> bytes:
    """dag-pb canonical form: links (field 2) first, then data (field 1)."""
    out = b""
    for cid, name, tsize in links:
        link = _field_bytes(1, cid.bytes) + _field_bytes(2, name.encode()) + _field_int(3, tsize)
        out += _field_bytes(2, link)
    return out + _field_bytes(1, data)


# -- UnixFS DAGs -------------------------------------------------------------------------------

@dataclass
class Node:
    """The root of a DAG with every block under it (in the order a CAR stores them)."""

    cid: CID
    size: int  # Tsize: bytes of this block plus everything under it
    blocks: list[tuple[CID, bytes | FileSlice]] = field(default_factory=list)
    content_size: int = 0


@dataclass(frozen=True)
class FileSlice:
    """A block's bytes left on disk (so a CAR of big videos never sits in memory)."""

    path: Path
    offset: int
    length: int

    def read(self) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.length)
        if len(data) != self.length:
            raise BadInput(f"{self.path} changed while it was being packed")
        return data


def file_node(data: bytes | Path) -> Node:
    """The UnixFS DAG of one file (bytes, or a path read 1 MiB at a time and left on disk)."""
    if isinstance(data, Path):
        leaves = []
        with open(data, "rb") as f:
            off = 0
            while chunk := f.read(CHUNK_SIZE):
                cid = CID.of(RAW, chunk)
                leaves.append(Node(cid, len(chunk), [(cid, FileSlice(data, off, len(chunk)))], len(chunk)))
                off += len(chunk)
        if not leaves:
            cid = CID.of(RAW, b"")
            return Node(cid, 0, [(cid, b"")], 0)
        return _balanced(leaves)
    if len(data) <= CHUNK_SIZE:
        cid = CID.of(RAW, data)
        return Node(cid, len(data), [(cid, data)], len(data))
    level: list[Node] = []
    for off in range(0, len(data), CHUNK_SIZE):
        chunk = data[off:off + CHUNK_SIZE]
        cid = CID.of(RAW, chunk)
        level.append(Node(cid, len(chunk), [(cid, chunk)], len(chunk)))
    return _balanced(level)


def _balanced(level: list[Node]) -> Node:
    while len(level) > 1:
        parents = []
        for i in range(0, len(level), LAYOUT_WIDTH):
            group = level[i:i + LAYOUT_WIDTH]
            body = _pb_node([(n.cid, "", n.size) for n in group],
                            _unixfs_data(UNIXFS_FILE, sum(n.content_size for n in group), [n.content_size for n in group]))
            cid = CID.of(DAG_PB, body)
            blocks = [b for n in group for b in n.blocks] + [(cid, body)]
            parents.append(Node(cid, len(body) + sum(n.size for n in group), blocks,
                                sum(n.content_size for n in group)))
        level = parents
    return level[0]


def file_cid(data: bytes | Path) -> CID:
    return file_node(data).cid


Tree = dict  # name -> bytes | Path | Tree


def directory_node(entries: Tree) -> Node:
    """A UnixFS directory; values are bytes, file paths, or nested dicts (subdirectories).

    Up to SHARD_THRESHOLD entries it is one flat node, above that a HAMT-sharded directory."""
    children: list[tuple[str, Node]] = []
    for name, value in entries.items():
        if not name or "/" in name or name in (".", ".."):
            raise BadInput(f"bad file name in a content-addressed directory: {name!r}")
        if isinstance(value, dict):
            children.append((name, directory_node(value)))
        elif isinstance(value, Path):
            children.append((name, file_node(value)))
        else:
            children.append((name, file_node(bytes(value))))
    if len(children) > SHARD_THRESHOLD:
        return _hamt_shard([(name.encode(), n) for name, n in children], 0)
    children.sort(key=lambda c: c[0].encode())
    return _directory_block([(n, name) for name, n in children], _unixfs_data(UNIXFS_DIRECTORY))


def _directory_block(children: list[tuple[Node, str]], data: bytes) -> Node:
    """One dag-pb directory node over its children (linked under the given names, in that order)."""
    body = _pb_node([(n.cid, name, n.size) for n, name in children], data)
    cid = CID.of(DAG_PB, body)
    blocks = [b for n, _ in children for b in n.blocks] + [(cid, body)]
    return Node(cid, len(body) + sum(n.size for n, _ in children), blocks)


def _hamt_slot(name: bytes, depth: int) -> int:
    """The slot (0-255) of a name at a depth: byte depth % 8 of murmur3-x64-64 of the name, with the
    byte depth // 8 appended to the name from depth 8 on (@perma/map's "infinite" hash)."""
    frame = depth // 8
    key = name if frame == 0 else name + bytes([frame & 0xFF])
    return mmh3.mmh3_x64_128_digest(key)[7 - depth % 8]  # the digest is little-endian, the hash big-endian


def _hamt_shard(entries: list[tuple[bytes, Node]], depth: int) -> Node:
    """A HAMT shard node at a depth over its entries (name bytes, node), sub-shards first in its blocks."""
    slots: dict[int, list[tuple[bytes, Node]]] = {}
    for name, node in entries:
        slots.setdefault(_hamt_slot(name, depth), []).append((name, node))
    links: list[tuple[Node, str]] = []
    for slot in sorted(slots):
        inside = slots[slot]
        prefix = f"{slot:02X}"
        if len(inside) == 1:
            name, node = inside[0]
            links.append((node, prefix + name.decode()))
        else:
            links.append((_hamt_shard(inside, depth + 1), prefix))
    bitfield = sum(1 << slot for slot in slots).to_bytes(HAMT_FANOUT // 8, "big").lstrip(b"\0")
    return _directory_block(links, _unixfs_data(UNIXFS_HAMT_SHARD, data=bitfield, hash_type=MURMUR3_X64_64,
                                                fanout=HAMT_FANOUT))


# -- CAR v1 --------------------------------------------------------------------------------------

def _cbor_head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    if n < 256:
        return bytes([major << 5 | 24, n])
    if n < 65536:
        return bytes([major << 5 | 25]) + n.to_bytes(2, "big")
    return bytes([major << 5 | 26]) + n.to_bytes(4, "big")


def car_header(roots: list[CID]) -> bytes:
    """dag-cbor {"roots": [CID...], "version": 1} (keys in canonical order: shorter first)."""
    body = _cbor_head(5, 2)
    body += _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(roots))
    for r in roots:
        link = b"\x00" + r.bytes  # CIDs in dag-cbor: tag 42 over bytes with a 0x00 prefix
        body += b"\xd8\x2a" + _cbor_head(2, len(link)) + link
    body += _cbor_head(3, 7) + b"version" + _cbor_head(0, 1)
    return varint(len(body)) + body


def car_bytes(roots: list[CID], blocks: Iterable[tuple[CID, bytes | FileSlice]]) -> bytes:
    return b"".join(_car_chunks(roots, blocks))


def _car_chunks(roots: list[CID], blocks: Iterable[tuple[CID, bytes | FileSlice]]) -> Iterator[bytes]:
    yield car_header(roots)
    seen: set[CID] = set()
    for cid, data in blocks:
        if cid in seen:
            continue
        seen.add(cid)
        if isinstance(data, FileSlice):
            where = data
            data = where.read()
            if hashlib.sha256(data).digest() != cid.digest:
                raise BadInput(f"{where.path} changed while the CAR was being written (bytes {where.offset}+)")
        c = cid.bytes
        yield varint(len(c) + len(data)) + c + data


def write_car(path: Path, roots: list[CID], blocks: Iterable[tuple[CID, bytes | FileSlice]]) -> int:
    tmp = path.with_suffix(path.suffix + ".tmp")
    n = 0
    try:
        with open(tmp, "wb") as f:
            for chunk in _car_chunks(roots, blocks):
                f.write(chunk)
                n += len(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return n


def read_car(data: bytes) -> tuple[list[CID], dict[CID, bytes]]:
    """Parse a CAR v1 (roots and blocks) and check every block against its CID."""
    hlen, p = read_varint(data, 0)
    header = data[p:p + hlen]
    p += hlen
    roots = []
    i = 0
    while True:
        j = header.find(b"\xd8\x2a", i)
        if j < 0:
            break
        ln = header[j + 3] if header[j + 2] == 0x58 else header[j + 2] & 0x1F
        start = j + (4 if header[j + 2] == 0x58 else 3)
        roots.append(_cid_from_bytes(header[start + 1:start + ln]))
        i = start + ln
    blocks: dict[CID, bytes] = {}
    while p < len(data):
        ln, q = read_varint(data, p)
        sec = data[q:q + ln]
        cid = _cid_from_bytes(sec[:36])
        body = sec[36:]
        if hashlib.sha256(body).digest() != cid.digest:
            raise BadInput(f"CAR block {cid} does not match its content")
        blocks[cid] = body
        p = q + ln
    return roots, blocks


def _cid_from_bytes(b: bytes) -> CID:
    version, p = read_varint(b, 0)
    codec, p = read_varint(b, p)
    mh, p = read_varint(b, p)
    ln, p = read_varint(b, p)
    if version != 1 or mh != SHA2_256 or ln != 32:
        raise BadInput("unsupported CID in CAR (want v1, sha2-256)")
    return CID(codec, b[p:p + 32])
