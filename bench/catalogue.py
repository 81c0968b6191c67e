"""Catalogue benchmark: adds per second (3 media blobs each) and p50/p95 of a filtered 50-row page.

Side by side with the obvious alternatives: batched ``add_many`` vs one ``add`` per artwork, and
keyset pagination on the composite (kind, status, created) index vs OFFSET pagination.
Goals (issue 2): >= 1,000 artworks/s added; p95 <= 5 ms at 100k artworks.

    .venv/bin/python bench/catalogue.py [--sizes 10000 100000] [--fsync]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from catalogue import ArtworkDraft, Catalogue, MediaDraft
from catalogue.models import Artwork

KINDS = ["image", "walk", "progression", "soundscape", "melody"]
T0 = datetime(2026, 1, 1)  # noqa: DTZ001 - the catalogue stores naive UTC


def draft(i: int) -> ArtworkDraft:
    tag = os.urandom(8) + i.to_bytes(8, "little")
    return ArtworkDraft(
        kind=KINDS[i % len(KINDS)], title=f"bench {i}", recipe={"bench": i, "seed": i * 7},
        media=[MediaDraft(role="image", mime="image/png", data=tag + b"i" * 2048),
               MediaDraft(role="poster", mime="image/png", data=tag + b"p" * 1024),
               MediaDraft(role="thumbnail", mime="image/png", data=tag + b"t" * 256)],
        created=T0 + timedelta(seconds=i * 26),  # ~30 days per 100k
        status="hidden" if i % 10 == 0 else "ok")


def fill(cat: Catalogue, start: int, n: int, batch: int) -> float:
    t = time.perf_counter()
    for b in range(start, start + n, batch):
        if batch == 1:
            cat.add(draft(b))
        else:
            cat.add_many([draft(i) for i in range(b, min(b + batch, start + n))])
    return n / (time.perf_counter() - t)


def query_latency(cat: Catalogue, n_total: int, mode: str, reps: int = 300,
                  with_media: bool = False) -> tuple[float, float]:
    rng = random.Random(1)
    span = n_total * 26
    lat = []
    from sqlalchemy import select

    for _ in range(reps):
        kind = rng.choice(KINDS)
        since = T0 + timedelta(seconds=rng.randrange(0, span // 2))
        until = since + timedelta(seconds=span // 4)
        t = time.perf_counter()
        if mode == "keyset":
            rows = cat.page(kind=kind, status="ok", since=since, until=until, limit=50, with_media=with_media)
            if rows:  # the next page through the keyset cursor, as a scrolling UI does
                rows = cat.page(kind=kind, status="ok", since=since, until=until, limit=50,
                                before=(rows[-1].created, rows[-1].id), with_media=with_media)
        else:
            with cat.read() as s:
                q = (select(Artwork).where(Artwork.kind == kind, Artwork.status == "ok", Artwork.created >= since,
                                           Artwork.created < until)
                     .order_by(Artwork.created.desc(), Artwork.id.desc()))
                rows = list(s.scalars(q.limit(50)))
                rows = list(s.scalars(q.offset(rng.randrange(0, 2000)).limit(50)))
        lat.append((time.perf_counter() - t) * 1000 / 2)  # per page
        assert rows is not None
    lat.sort()
    return statistics.median(lat), lat[int(0.95 * len(lat)) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--fsync", action="store_true", help="fsync every blob (the default in config.yaml)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-cat-") as d:
        cat = Catalogue(f"sqlite:///{d}/c.sqlite", Path(d) / "media", fsync=args.fsync)
        single = Catalogue(f"sqlite:///{d}/single.sqlite", Path(d) / "media1", fsync=args.fsync)
        rate_single = fill(single, 0, 2000, 1)
        have = 0
        for size in args.sizes:
            rate = fill(cat, have, size - have, args.batch)
            have = size
            p50, p95 = query_latency(cat, size, "keyset")
            m50, m95 = query_latency(cat, size, "keyset", reps=100, with_media=True)
            o50, o95 = query_latency(cat, size, "offset", reps=100)
            rows.append((size, rate, rate_single, p50, p95, m50, m95, o50, o95))
    print(f"\ncatalogue benchmark (SQLite WAL, fsync={'on' if args.fsync else 'off'}, batch {args.batch}, "
          f"3 blobs per artwork, {os.cpu_count()} cores)")
    print(f"{'artworks':>9} | {'add/s batched':>13} | {'add/s one-by-one':>16} | {'page p50/p95 ms':>15} | "
          f"{'+media p50/p95 ms':>17} | {'OFFSET p50/p95 ms':>17}")
    print("-" * 101)
    for size, rate, rs, p50, p95, m50, m95, o50, o95 in rows:
        print(f"{size:>9} | {rate:>13.0f} | {rs:>16.0f} | {p50:>7.2f}/{p95:<7.2f} | {m50:>8.2f}/{m95:<8.2f} | "
              f"{o50:>8.2f}/{o95:<8.2f}")
    print("page = one indexed keyset query (artwork rows); +media = with media and tags loaded (2 more "
          "queries); OFFSET = offset pagination (the alternative)")
    print("goals: >= 1000 artworks/s added; page p95 <= 5 ms at 100k")


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine()  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
