"""`gallery demo` step: mint the demo set on the local dev chain kept under data_dir (the same chain that
`gallery mint …` uses with minting.rpc_url empty) and print the token URIs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from catalogue.models import Artwork, Collection, CollectionItem, Media
from gallery.errors import BadInput
from minting.metadata import IMAGE_ROLES

log = logging.getLogger("gallery.minting")


def _demo_set(dc: Any, size: int, reuse: bool = True) -> int:
    """The newest frozen collection, or a new frozen one of the demo's newest artworks."""
    with dc.catalogue.write() as s:
        coll = s.scalars(select(Collection).where(Collection.frozen_at.is_not(None))
                         .order_by(Collection.id.desc())).first()
        if reuse and coll is not None and coll.items:
            return coll.id
        has_picture = select(Media.artwork_id).where(Media.role.in_(IMAGE_ROLES), Media.broken.is_(False))
        ids = list(s.scalars(select(Artwork.id).where(Artwork.status == "ok", Artwork.id.in_(has_picture))
                             .order_by(Artwork.id.desc()).limit(size)))
        if not ids:
            raise RuntimeError("the demo has no artworks to mint")
        coll = Collection(title="Latent Gallery demo set", description="Made by `gallery demo`.",
                          frozen_at=datetime.now(UTC).replace(tzinfo=None))
        coll.items = [CollectionItem(artwork_id=a, position=i) for i, a in enumerate(sorted(ids))]
        s.add(coll)
        s.flush()
        return coll.id


def mint_step(dc: Any) -> dict[str, Any]:
    from rich.console import Console

    from minting import flow
    from minting.devchain import CHAIN_ID

    set_id = _demo_set(dc, 4 if dc.quick else 8)
    # the local dev chain and its dev account, whatever minting.rpc_url and the environment say
    ms = dc.settings.minting.model_copy(update={"chain_id": CHAIN_ID, "contract": "", "rpc_url": "",
                                                 "keystore": None})
    settings = dc.settings.model_copy(update={"minting": ms})
    con = Console()
    mc = flow.open_context(settings, dc.catalogue, environ={})
    try:
        for note in mc.notes:
            con.print(f"  note: {note}")
        dep = flow.deploy(mc)
        try:
            res = flow.mint_set(mc, set_id)
        except BadInput as e:  # e.g. a curated set holding a work without an image: mint the demo's own set
            log.warning("demo: cannot mint set %s (%s); minting a set of the newest artworks instead", set_id, e)
            set_id = _demo_set(dc, 4 if dc.quick else 8, reuse=False)
            res = flow.mint_set(mc, set_id)
        ver = flow.verify(mc, set_id)
        where = mc.devchain.path
    finally:
        mc.close()
    con.print(f"  minted set {set_id}: {res['minted']} tokens on {dep['contract']} (local dev chain {where}), "
              f"CAR {res['car']}")
    for uri in res["token_uris"]:
        con.print(f"    {uri}")
    return {"set": set_id, "contract": dep["contract"], "tokens": res["minted"], "verified": ver["ok"],
            "deploy_gas": dep.get("gas"), "car": res["car"], "first_uri": res["token_uris"][0]}
