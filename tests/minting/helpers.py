"""Test helpers: small artworks, a frozen set made through the ORM, a funded key."""

from __future__ import annotations

from datetime import UTC, datetime

from catalogue.models import Collection, CollectionItem
from generator.samples import tiny_drafts

CHAIN_ID = 131277322940537


def add_artworks(cat, n: int, kind: str = "image", start: int = 0) -> list[int]:
    return cat.add_many(tiny_drafts(n, kind, start))


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
