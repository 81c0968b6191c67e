"""A catalogue writer/reader run as a real subprocess by the concurrency and crash tests."""

from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from catalogue import ArtworkDraft, Catalogue, MediaDraft


def make_draft(tag: str, i: int, blob_size: int) -> ArtworkDraft:
    body = os.urandom(16) + f"{tag}-{i}".encode()
    return ArtworkDraft(kind="image", title=f"{tag} {i}", recipe={"writer": tag, "i": i},
                        media=[MediaDraft(role="image", mime="image/png", data=body + b"\0" * blob_size),
                               MediaDraft(role="poster", mime="image/png", data=body + b"p"),
                               MediaDraft(role="thumbnail", mime="image/png", data=body + b"t")])


def job_draft(tag: str, i: int) -> ArtworkDraft:
    """A deterministic draft (the same bytes on every run): a rerun job re-adds exactly these.
    Every draft also carries one blob shared by all jobs (a watermark), so blobs are shared."""
    body = hashlib.sha256(f"{tag}-{i}".encode()).digest() * 8
    return ArtworkDraft(kind="image", title=f"{tag} {i}", recipe={"job": tag, "i": i},
                        media=[MediaDraft(role="image", mime="image/png", data=body + b"i"),
                               MediaDraft(role="thumbnail", mime="image/png", data=body + b"t"),
                               MediaDraft(role="poster", mime="image/png", data=b"shared watermark")])


def race(mode: str, cat: Catalogue, tag: str, n: int) -> None:
    """Writers and gc racing on one store: random pauses between a writer's blobs and its rows, and
    between gc's scan and its deletes. ``LG_RACE_UNSAFE=1`` switches the writers' re-check off
    (the negative control: the race then shows up as missing blobs)."""
    seed = int(os.environ.get("LG_RACE_SEED", "0"))
    rng = random.Random(f"{seed}-{mode}-{tag}")
    if mode == "race-gc":
        real_iter = cat.store.iter_blobs

        def paused_iter():
            yield from real_iter()
            time.sleep(rng.uniform(0, 0.004))  # gc between its scan and its deletes

        cat.store.iter_blobs = paused_iter  # type: ignore[method-assign]
        stop = Path(tag)
        loops = removed = 0
        while not stop.exists():
            removed += len(cat.gc(grace_seconds=float(os.environ.get("LG_RACE_GRACE", "0"))))
            loops += 1
            if loops == 1:
                Path(tag + ".ready").write_text("one gc done")
            time.sleep(rng.uniform(0, 0.003))
        print(f"gc loops={loops} removed={removed}", flush=True)
        return
    real_insert, real_ensure = cat._insert_rows, cat._ensure_blobs
    put_back = 0

    def paused_insert(*a, **kw):
        time.sleep(rng.uniform(0, 0.01))  # the writer between its blobs and its transaction
        return real_insert(*a, **kw)

    def counted_ensure(*a, **kw):
        nonlocal put_back
        if os.environ.get("LG_RACE_UNSAFE") == "1":
            return 0
        k = real_ensure(*a, **kw)
        put_back += k
        return k

    cat._insert_rows = paused_insert  # type: ignore[method-assign]
    cat._ensure_blobs = counted_ensure  # type: ignore[method-assign]
    order = list(range(n))
    rng.shuffle(order)
    for i in order:
        if mode == "race-write-file":  # from a file, as the generators hand over videos
            with tempfile.TemporaryDirectory() as td:
                d = job_draft(tag, i)
                f = Path(td) / "image.png"
                f.write_bytes(d.media[0].data or b"")
                d.media[0] = MediaDraft(role="image", mime="image/png", path=f)
                cat.add(d)
        else:
            cat.add(job_draft(tag, i))
    print(f"done put_back={put_back}", flush=True)


def main() -> None:
    mode, url, media, tag, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    cat = Catalogue(url, media, fsync=mode != "write-fast" and not mode.startswith("race-"), gc_grace_seconds=0)
    if mode in ("write", "write-fast"):
        for i in range(n):
            cat.add(make_draft(tag, i, 64))
        print("done", flush=True)
    elif mode == "read":
        deadline = time.monotonic() + n
        polls = 0
        while time.monotonic() < deadline:
            page = cat.page(limit=50)
            for a in page:
                assert a.media, "artwork without media"
            cat.count()
            polls += 1
        print(f"polls {polls}", flush=True)
    elif mode == "crash-mid-add":
        # Blobs are written, then the process stalls before the rows: the parent SIGKILLs it here.
        real = cat._insert_rows

        def stalled(*a, **kw):
            Path(tag).write_text("blobs written")
            time.sleep(600)
            return real(*a, **kw)

        cat._insert_rows = stalled  # type: ignore[method-assign]
        cat.add(make_draft("crash", 0, 1 << 20))
    elif mode.startswith("race-"):
        race(mode, cat, tag, n)
    elif mode == "put-then-hang":
        # A writer killed after its blobs, before its rows: the parent SIGKILLs it once flagged.
        for i in range(n):
            cat._put_media(job_draft("job", i))
        Path(tag).write_text("blobs written")
        time.sleep(600)
    elif mode == "write-forever":
        i = 0
        while True:
            cat.add(make_draft(tag, i, 1 << 18))
            i += 1
            if i == 3:
                Path(tag + ".started").write_text("ok")


if __name__ == "__main__":
    main()
