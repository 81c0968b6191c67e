"""Token metadata reads the wall text a curator wrote: name = title, description = the paragraph,
artist / year / medium as attributes; without wall text the set's description stays."""

from __future__ import annotations

import json

from catalogue import editing
from minting.metadata import token_files
from tests.minting.helpers import add_artworks


def _doc(cat, aid):
    tf = token_files(cat.get(aid), cat.media_path, collection_title="Set", collection_description="The set.",
                     position=1, token_id=1, external_url="", default_description="Default.")
    return json.loads(tf.document)


def test_token_metadata_uses_wall_text(catalogue):
    (aid,) = add_artworks(catalogue, 1)
    plain = _doc(catalogue, aid)
    assert plain["description"] == "The set." and not {"artist", "year", "medium"} & {
        a["trait_type"] for a in plain["attributes"]}
    editing.edit(catalogue, aid, title="Evening field", artist="A. Artist", year="2025", medium="GAN image",
                 wall_text="Grass that never grew, at the hour it never saw.")
    doc = _doc(catalogue, aid)
    traits = {a["trait_type"]: a["value"] for a in doc["attributes"]}
    assert doc["name"] == "Evening field"
    assert doc["description"] == "Grass that never grew, at the hour it never saw."
    assert traits["artist"] == "A. Artist" and traits["year"] == 2025 and traits["medium"] == "GAN image"
