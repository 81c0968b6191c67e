"""A catalogue writer/reader run as a real subprocess by the concurrency and crash tests."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from catalogue import ArtworkDraft, Catalogue, MediaDraft


def make_draft(tag: str, i: int, blob_size: int) -> ArtworkDraft:
    body = os.urandom(16) + f"{tag}-{i}".encode()
    return ArtworkDraft(kind="image", title=f"{tag} {i}", recipe={"writer": tag, "i": i},
                        media=[MediaDraft(role="image", mime="image/png", data=body + b"\0" * blob_size),
                               MediaDraft(role="poster", mime="image/png", data=body + b"p"),
                               MediaDraft(role="thumbnail", mime="image/png", data=body + b"t")])


def main() -> None:
    mode, url, media, tag, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    cat = Catalogue(url, media, fsync=mode != "write-fast", gc_grace_seconds=0)
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
    elif mode == "write-forever":
        i = 0
        while True:
            cat.add(make_draft(tag, i, 1 << 18))
            i += 1
            if i == 3:
                Path(tag + ".started").write_text("ok")


if __name__ == "__main__":
    main()
