"""Published metadata never carries a secret: a private key or a mnemonic typed into a title, a tag, a prompt,
a set's title or description is refused before anything is written, and the refusal does not echo it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue import ArtworkDraft, MediaDraft
from gallery.errors import BadInput
from gallery.redact import bip39_words, find_secret
from generator.samples import tiny_png
from minting.flow import contract_metadata
from minting.metadata import refuse_secrets, token_files

WORDS = sorted(bip39_words())
keys = st.builds(lambda b, p, up: p + (b.hex().upper() if up else b.hex()),
                 st.binary(min_size=32, max_size=32), st.sampled_from(["", "0x"]), st.booleans())
mnemonics = st.builds(lambda ws, sep: sep.join(ws), st.lists(st.sampled_from(WORDS), min_size=12, max_size=24),
                      st.sampled_from([" ", ", ", "\n"]))
secrets = st.one_of(keys, mnemonics)
PLACES = ["title", "tag", "prompt", "collection_title", "collection_description", "default_description",
          "external_url", "tags_as_words"]


def _add(cat, title: str, tags: list[str], prompt: str, sha: str | None = None) -> int:
    recipe = {"generator": "test.art", "version": 1, "seed": 1, "prompt": prompt}
    if sha:
        recipe["checkpoint_sha256"] = sha
        recipe["model"] = {"sha256": sha}
    d = ArtworkDraft(kind="image", recipe=recipe, title=title, tags=tags,
                     media=[MediaDraft("image", "image/png", data=tiny_png(3)), MediaDraft("thumbnail", "image/png",
                                                                                        data=tiny_png(3, 8))])
    return cat.add_many([d])[0]


def _files(cat, aid: int, **kw):
    args = {"collection_title": "Set", "collection_description": "About.", "position": 1, "token_id": 1,
            "external_url": "", "default_description": "", **kw}
    return token_files(cat.get(aid), cat.media_path, **args)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=secrets, place=st.sampled_from(PLACES))
def test_secret_anywhere_in_published_text_is_refused_unechoed(catalogue, secret, place):
    title, tags, prompt, kw = "A field", ["test"], "a quiet field", {}
    if place == "title":
        title = f"Field of {secret}"
    elif place == "tag":
        tags = ["test", secret]
    elif place == "prompt":
        prompt = f"a face, {secret}"
    elif place == "tags_as_words":
        tags = secret.replace(",", " ").split() if " " in secret or "\n" in secret else [secret]
    elif place == "external_url":
        kw = {"external_url": f"https://x.example/{secret.replace(' ', '-')}/{{artwork_id}}"}
    else:
        kw = {place: secret}
        if place == "default_description":
            kw["collection_description"] = ""
    aid = _add(catalogue, title, tags, prompt)
    with pytest.raises(BadInput) as e:
        _files(catalogue, aid, **kw)
    msg = str(e.value)
    assert f"artwork {aid}'s token metadata" in msg and "refusing to publish" in msg
    assert secret not in msg and find_secret(msg) is None


def test_digests_computed_from_files_are_published(catalogue):
    sha = "ab" * 32
    aid = _add(catalogue, "A field", ["test"], "a quiet field", sha=sha)
    doc = _files(catalogue, aid).metadata
    assert {"trait_type": "checkpoint_sha256", "value": sha} in doc["attributes"]
    assert {"trait_type": "tag", "value": "test"} in doc["attributes"]


def test_contract_metadata_is_checked_too():
    ms = SimpleNamespace(name="Latent Gallery", description="Works.", royalty_bps=500, royalty_receiver="",
                         external_url="")
    assert b"Latent Gallery" in contract_metadata(ms, "0x" + "1" * 40)
    key = "0x" + "7e" * 32
    ms.description = f"key {key}"
    with pytest.raises(BadInput, match="the contract's metadata: description: 64 hex digits") as e:
        contract_metadata(ms, "0x" + "1" * 40)
    assert key not in str(e.value)


def test_refuse_secrets_names_the_trait_and_keys():
    doc = {"attributes": [{"trait_type": "prompt", "value": "x " + "F" * 64}]}
    with pytest.raises(BadInput, match=r"attributes\[prompt\]\.value"):
        refuse_secrets(doc, "doc")
    with pytest.raises(BadInput, match=r"\(a key\)"):
        refuse_secrets({"f" * 64: 1}, "doc")
    refuse_secrets({"name": "A calm walk", "fee_recipient": "0x" + "1" * 40}, "doc")  # an address is not a key
