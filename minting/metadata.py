"""Per-token metadata in the marketplace standard (ERC-721 metadata JSON, OpenSea conventions).

Each token gets `name`, `description`, `image`, `animation_url` (videos of walks, uncanny faces and
progressions; audio of soundscapes and melodies), `external_url` and `attributes` taken from the
artwork's recipe. The wall text a curator wrote is what a buyer reads: `name` is the work's title,
`description` its wall text paragraph when written (else the set's description), and artist, year and
medium, when written, are attributes. Media are referenced by their own CIDv1 (`ipfs://<cid>`), so a URI never depends
on where the directory of the set is later pinned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gallery.errors import BadInput
from gallery.redact import find_secret, find_secret_in_words
from minting.cid import file_cid

# Which media role is the token's image and which its animation, by artwork kind.
IMAGE_ROLES = ("image", "poster", "spectrogram", "pianoroll", "thumbnail")
ANIMATION_ROLES = {"walk": "video", "uncanny": "video", "progression": "video",
                   "soundscape": "audio", "melody": "audio"}
EXTENSIONS = {"image/png": "png", "video/mp4": "mp4", "audio/wav": "wav", "audio/x-wav": "wav",
              "audio/midi": "mid", "image/jpeg": "jpg", "image/gif": "gif", "audio/mpeg": "mp3"}
# Recipe keys that become attributes (scalars, or lists of scalars joined), in this order.
RECIPE_TRAITS = ("generator", "version", "mode", "preset", "model", "checkpoint_sha256", "seed", "seeds", "prompt",
                 "prompts", "iterations", "iteration", "steps", "truncation", "psi", "temperature", "size", "tempo",
                 "key", "layers")


@dataclass
class TokenFiles:
    """The metadata document of one token and the media files it points at."""

    metadata: dict[str, Any]
    document: bytes  # the canonical JSON bytes (what the metadata CID addresses)
    media: dict[str, Path]  # file name in the set's media folder -> blob path in the store
    media_sha256: dict[str, str]  # file name -> blob sha256 (the store finds it again, wherever it moved)


def canonical_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def refuse_secrets(doc: Any, what: str, allowed: frozenset[str] | set[str] = frozenset()) -> None:
    """Refuse (BadInput) to publish a document any of whose texts -- name, description, titles, tags,
    attributes, keys -- looks like a private key or a wallet mnemonic; the message names the field,
    never the value. ``allowed``: exact strings that are known digests (a checkpoint's sha256), not text."""
    def fail(path: str, why: str) -> None:
        raise BadInput(f"{what}: {path or 'the document'}: {why}; refusing to publish it (nothing was written). "
                       "Edit that text (title, tags, set description, minting.* setting) first")

    tags: list[str] = []
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        v, path = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                why = find_secret(str(k))
                if why:
                    fail(f"{path} (a key)", why)
                stack.append((x, f"{path}.{k}" if path else str(k)))
        elif isinstance(v, list | tuple):
            why = find_secret_in_words([x for x in v if isinstance(x, str)])
            if why:
                fail(path, why)
            for i, x in enumerate(v):
                label = x.get("trait_type") if isinstance(x, dict) and isinstance(x.get("trait_type"), str) else i
                if isinstance(x, dict) and x.get("trait_type") == "tag" and isinstance(x.get("value"), str):
                    tags.append(x["value"])
                stack.append((x, f"{path}[{label}]"))
        elif isinstance(v, str) and v not in allowed:
            why = find_secret(v)
            if why:
                fail(path, why)
    why = find_secret_in_words(sorted(tags)) or find_secret_in_words(tags)
    if why:
        fail("attributes[tag] (the tags together)", why)


def _digests(artwork: Any) -> set[str]:
    """The sha256 digests a token's attributes may carry verbatim (computed from files, not typed)."""
    recipe = artwork.recipe or {}
    out = {getattr(artwork, "model_sha256", None), recipe.get("checkpoint_sha256")}
    if isinstance(recipe.get("model"), dict):
        out.add(recipe["model"].get("sha256"))
    return {d for d in out if isinstance(d, str) and len(d) == 64}


def _trait_value(v: Any) -> Any:
    if isinstance(v, dict):  # e.g. "model": {"name": ..., "sha256": ...}
        v = v.get("name") or v.get("preset") or v.get("sha256")
    if v is None:
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float, str)):
        return v if not isinstance(v, str) else v[:500]
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, (int, float, str)) for x in v) and len(v) <= 16:
        return ", ".join(str(x) for x in v)[:500]
    return None


def attributes(artwork: Any, model_name: str | None = None) -> list[dict[str, Any]]:
    recipe = artwork.recipe or {}
    out: list[dict[str, Any]] = [{"trait_type": "kind", "value": artwork.kind}]
    # The wall text a curator wrote (artist, year, medium), when written.
    for key in ("artist", "year", "medium"):
        v = getattr(artwork, key, None)
        if v not in (None, ""):
            out.append({"trait_type": key, "value": v})
    if model_name and "model" not in recipe:
        out.append({"trait_type": "model", "value": model_name})
    for key in RECIPE_TRAITS:
        if key in recipe:
            v = _trait_value(recipe[key])
            if v is not None:
                trait: dict[str, Any] = {"trait_type": key, "value": v}
                if isinstance(v, (int, float)) and key not in ("seed", "version"):
                    trait["display_type"] = "number"
                out.append(trait)
    if artwork.duration:
        out.append({"trait_type": "duration (s)", "value": round(float(artwork.duration), 3),
                    "display_type": "number"})
    out.extend({"trait_type": "tag", "value": tag}
               for tag in sorted(getattr(t, "name", str(t)) for t in (artwork.tags or [])))
    return out


def token_files(artwork: Any, media_path, *, collection_title: str, collection_description: str,
                position: int, token_id: int, external_url: str, default_description: str,
                model_name: str | None = None) -> TokenFiles:
    """Build one token's metadata. `media_path(media) -> Path` finds a blob in the store."""
    media: dict[str, Path] = {}
    shas: dict[str, str] = {}
    cids: dict[str, str] = {}

    def add(role: str) -> str | None:
        m = artwork.first_media(role)
        if m is None or m.broken:
            return None
        path = Path(media_path(m))
        if not path.is_file():
            raise BadInput(f"artwork {artwork.id}: the {role} file {path} is missing from the media store")
        ext = EXTENSIONS.get(m.mime, "bin")
        name = f"{artwork.id}-{role}.{ext}"
        media[name] = path
        shas[name] = m.sha256
        cids[role] = str(file_cid(path))
        return f"ipfs://{cids[role]}"

    image = next((u for u in (add(r) for r in IMAGE_ROLES) if u), None)
    if image is None:
        raise BadInput(f"artwork {artwork.id} ({artwork.kind}) has no image, poster or spectrogram to show")
    doc: dict[str, Any] = {
        "name": artwork.title or f"{collection_title} #{position}",
        # The work's wall text paragraph when a curator wrote one, else the set's description.
        "description": getattr(artwork, "wall_text", "") or collection_description or default_description,
        "image": image,
        "attributes": attributes(artwork, model_name),
    }
    anim_role = ANIMATION_ROLES.get(artwork.kind)
    if anim_role:
        anim = add(anim_role)
        if anim is None:
            raise BadInput(f"artwork {artwork.id} ({artwork.kind}) has no {anim_role} file for animation_url")
        doc["animation_url"] = anim
    if external_url:
        doc["external_url"] = external_url.format(artwork_id=artwork.id, token_id=token_id)
    doc["properties"] = {"artwork_id": artwork.id, "collection": collection_title, "position": position,
                         "files": {role: {"cid": cid} for role, cid in cids.items()}}
    refuse_secrets(doc, f"artwork {artwork.id}'s token metadata", _digests(artwork))
    return TokenFiles(doc, canonical_json(doc), media, shas)
