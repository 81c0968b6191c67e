"""Token metadata: the marketplace fields, attributes from recipes, media by CID."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest

from gallery.errors import BadInput
from minting.cid import file_cid
from minting.metadata import attributes, canonical_json, token_files
from tests.minting.helpers import add_artworks


def test_attributes_from_recipes():
    class Art:
        kind = "walk"
        duration = 12.5
        tags: ClassVar[list] = []
        recipe: ClassVar[dict] = {"generator": "stylegan.walk", "version": 2, "mode": "endless", "seed": 7, "psi": 0.7,
                  "model": {"name": "tiny-faces64", "sha256": "ab" * 32}, "keyframes": [[0.1] * 512],
                  "prompts": ["a face", "a mask"], "flag": True}

    attrs = {a["trait_type"]: a for a in attributes(Art(), "stylegan/other")}
    assert attrs["kind"]["value"] == "walk" and attrs["model"]["value"] == "tiny-faces64"
    assert attrs["seed"] == {"trait_type": "seed", "value": 7}  # an id, not a number to chart
    assert attrs["psi"]["display_type"] == "number" and attrs["mode"]["value"] == "endless"
    assert attrs["prompts"]["value"] == "a face, a mask"
    assert attrs["duration (s)"]["value"] == 12.5
    assert "keyframes" not in attrs and "flag" not in attrs  # latents are not traits


def test_token_files_image_and_animation(catalogue):
    (walk_id,) = add_artworks(catalogue, 1, kind="walk")
    art = catalogue.get(walk_id)
    tf = token_files(art, catalogue.media_path, collection_title="Walks", collection_description="",
                     position=3, token_id=41, external_url="https://gallery.example/a/{artwork_id}?t={token_id}",
                     default_description="Latent works.")
    doc = json.loads(tf.document)
    assert doc == tf.metadata and tf.document == canonical_json(doc)
    assert doc["name"] == "Field 0" and doc["description"] == "Latent works."
    poster = catalogue.media_path(art.first_media("poster")).read_bytes()
    video = catalogue.media_path(art.first_media("video")).read_bytes()
    assert doc["image"] == f"ipfs://{file_cid(poster)}"
    assert doc["animation_url"] == f"ipfs://{file_cid(video)}"
    assert doc["external_url"] == f"https://gallery.example/a/{walk_id}?t=41"
    assert sorted(tf.media) == [f"{walk_id}-poster.png", f"{walk_id}-video.mp4"]


def test_missing_media_is_named(catalogue):
    (aid,) = add_artworks(catalogue, 1)
    art = catalogue.get(aid)
    catalogue.media_path(art.first_media("image")).unlink()
    with pytest.raises(BadInput, match=f"artwork {aid}: the image file .* is missing"):
        token_files(art, catalogue.media_path, collection_title="S", collection_description="d", position=1,
                    token_id=1, external_url="", default_description="")
