"""Test helpers: small artworks, a frozen set made through the ORM, a funded key."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import Collection, CollectionItem

CHAIN_ID = 131277322940537


def png(seed: int, size: int = 16) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (size, size), ((seed * 37) % 256, (seed * 91) % 256, (seed * 13) % 256))
    img.putpixel((seed % size, (seed // size) % size), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def add_artworks(cat, n: int, kind: str = "image", start: int = 0) -> list[int]:
    drafts = []
    for i in range(start, start + n):
        media = [MediaDraft("image", "image/png", data=png(i)), MediaDraft("thumbnail", "image/png", data=png(i, 8))]
        if kind == "walk":
            media = [MediaDraft("video", "video/mp4", data=b"\x00\x00\x00\x18ftypmp42" + bytes([i]) * 64),
                     MediaDraft("poster", "image/png", data=png(i)), MediaDraft("thumbnail", "image/png", data=png(i, 8))]
        drafts.append(ArtworkDraft(kind=kind, recipe={"generator": "test.art", "version": 1, "seed": i,
                                                      "prompt": f"a quiet field {i}"},
                                   media=media, title=f"Field {i}", tags=["test"],
                                   duration=4.0 if kind == "walk" else None))
    return cat.add_many(drafts)


def make_set(cat, artwork_ids: list[int], title: str = "Test set", frozen: bool = True) -> int:
    with cat.write() as s:
        c = Collection(title=title, description="A set for the tests.",
                       frozen_at=datetime.now(UTC).replace(tzinfo=None) if frozen else None)
        c.items = [CollectionItem(artwork_id=a, position=i) for i, a in enumerate(artwork_ids)]
        s.add(c)
        s.flush()
        return c.id


def funded_key(w3, ether: int = 10) -> str:
    from eth_account import Account

    from minting.chain import fund_from_dev_account

    acct = Account.create()
    fund_from_dev_account(w3, acct.address, ether * 10**18)
    return acct.key.hex()
