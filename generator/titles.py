"""Default titles a visitor understands: what a work is, from which model or prompt (issue 23).

A job names what it made from its recipe with :func:`for_recipe`; ``gallery catalogue retitle --defaults``
re-derives the titles of older works the same way (:func:`default_title`, which also reads the lineage:
"Between “Dawn walk” and “Rain study”", "Variation 2 of “Dawn walk”"). Titles never show internal
references (``artwork:6``, ``#6``, ``corpus:...``, float seeds such as ``0.0``, sha prefixes):
:func:`looks_internal` is the test. Torch-free: the registry, curation and the command line import it.
Titles are not part of a draft's fingerprint (``catalogue.drafts.fingerprint``): retitling changes no
recipe and no identity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from catalogue import Catalogue

MAX_TITLE = 300  # catalogue.models.Artwork.title is String(300)
NAME_CHARS = 70  # a quoted parent title or prompt is shortened to this many characters
CURATOR_MARK = ("title_by", "curator")  # artwork.extra["title_by"] == "curator": a person chose the title

# An internal reference in a title: an artwork or corpus ref, "#6", a float seed like "0.0" or "3.1",
# a hex digest (a sha prefix) of 8 characters or more.
INTERNAL = re.compile(r"artwork:\s*\d|corpus:|#\d+|\b\d+\.\d+\b|\b[0-9a-f]{8,}\b", re.IGNORECASE)
# Titles the generators used to give by default (before issue 23): ``retitle --defaults`` may replace them.
OLD_DEFAULTS = [re.compile(p) for p in (
    r"^Melody sample \S+$", r"^Between .+ and .+$", r"^Style mix \[.*\]x\[.*\]$", r"^Bent face \d+ \(.*\)$",
    r"^Amplified uncanny \d+$", r"^(Endless|Chain|Loop) walk \d+$", r"^Variation \d+ of #\d+$",
    r"^Soundscape for .+$", r"^.+: \w+ \[.*\]$", r"^Projection of .+$", r"^Projection \(rendered\)$",
    r"^Variation of a projection$", r"^“.*” in \d+ steps$", (r"^(image|walk|uncanny|progression|soundscape|"
                                                               r"melody|mix|projection|bend) \d+$"), r"^Untitled #\d+$")]

KIND_WORDS = {"image": "image", "mix": "style mix", "projection": "projection", "bend": "bent face",
              "walk": "walk", "uncanny": "uncanny face", "progression": "progression",
              "soundscape": "soundscape", "melody": "melody"}


# ---- small pieces ------------------------------------------------------------------------------------
def looks_internal(title: str) -> bool:
    """Whether ``title`` shows an internal reference a visitor cannot read."""
    return bool(INTERNAL.search(title or ""))


def clip(text: str, limit: int = NAME_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters: cut at a word boundary with an ellipsis."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "…"


def quote(text: str, limit: int = NAME_CHARS) -> str:
    """“text”, shortened to ``limit`` characters; double quotes inside it become single ones."""
    inner = str(text).replace("\u201c", "\u2018").replace("\u201d", "\u2019")
    return f"\u201c{clip(inner, limit)}\u201d"


def finish(title: str) -> str:
    """One line, capital first letter, at most :data:`MAX_TITLE` characters."""
    t = clip(title, MAX_TITLE)
    return t[:1].upper() + t[1:]


def a_kind(kind: str) -> str:
    """"a melody", "an image", "an uncanny face"."""
    word = KIND_WORDS.get(kind, kind or "work")
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def words(name: str) -> str:
    """A file or corpus name in words: ``BunchOfRosesReel`` -> ``Bunch Of Roses Reel``, ``note_density`` ->
    ``note density``; empty when the name is a digest (a sha prefix) or nothing readable is left."""
    stem = PurePath(str(name)).name
    if "." in stem and not re.search(r"\d\.\d", stem):
        stem = stem.rsplit(".", 1)[0]
    stem = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem)
    stem = " ".join(stem.replace("_", " ").replace("-", " ").split())
    if not stem or looks_internal(stem) or not re.search(r"[A-Za-z]", stem):
        return ""
    return stem


def model_name(name: Any) -> str:
    """A model's name fit for a title ("tiny-faces64"), or "" when it is a digest or a path of one."""
    stem = PurePath(str(name or "")).name
    if stem.endswith((".pt", ".pth", ".pkl", ".ckpt")):
        stem = stem.rsplit(".", 1)[0]
    return "" if not stem or looks_internal(stem) else clip(stem, 40)


def the_model(name: Any) -> str:
    """"the tiny-faces64 model", or "the model" for an unreadable name."""
    n = model_name(name)
    return f"the {n} model" if n else "the model"


# ---- titles of each kind -----------------------------------------------------------------------------
def between(a: str, b: str, what: str = "") -> str:
    """"Between “Dawn walk” and “Rain study”" (``a``/``b`` already quoted or phrased)."""
    return finish(f"{what + ' between' if what else 'Between'} {a} and {b}")


def variation_of(name: str, number: int | None = None) -> str:
    """"Variation 2 of “Dawn walk”"."""
    return finish(f"Variation {number} of {name}" if number else f"Variation of {name}")


def soundscape_for(name: str) -> str:
    return finish(f"Soundscape for {name}")


def melody_sample(model: Any, seed: int, number: int | None = None) -> str:
    """"Melody from the tiny-2bar model, seed 3, no. 2"."""
    return finish(f"Melody from {the_model(model)}, seed {int(seed)}" + (f", no. {number}" if number else ""))


def prompt_title(prompts: Iterable[str], iterations: int | None = None, model: str = "VQGAN+CLIP") -> str:
    """"“a forest at night” (VQGAN+CLIP, 40 steps)"; a story: "“dawn” to “noon” (VQGAN+CLIP, 90 steps)"."""
    texts = [t for t in (" ".join(str(p).split()) for p in prompts) if t]
    how = f"{model}, {int(iterations)} steps" if iterations else model
    if not texts:
        return finish(f"Image-prompted progression ({how})")
    if len(texts) == 1:
        return finish(f"{quote(texts[0], 2 * NAME_CHARS)} ({how})")
    budget = MAX_TITLE - len(how) - 3 - len(" to …")
    each = max(12, min(2 * NAME_CHARS, (budget - 3 * (len(texts) - 1)) // len(texts) - 2))
    shown: list[str] = []
    for t in texts:  # a story: as many phases as fit (each its share of the room), then an ellipsis
        q = quote(t, each)
        if len(" to ".join([*shown, q])) > budget:
            break
        shown.append(q)
    more = " to …" if len(shown) < len(texts) else ""
    return finish(" to ".join(shown) + more + f" ({how})")


def walk_title(mode: str, seed: int, model: Any = None, keyframes: list[int] | None = None,
               start_segment: int = 0, segments: int = 0) -> str:
    """"Endless walk through the tiny-faces64 model, seed 7" (chain: its keyframe seeds)."""
    head = f"{(mode or 'latent').capitalize()} walk through {the_model(model)}"
    if keyframes and len(keyframes) > 1:
        seeds = ", ".join(str(int(s)) for s in keyframes) if len(keyframes) <= 4 else \
            f"{int(keyframes[0])} to {int(keyframes[-1])}"
        return finish(f"{head}, seeds {seeds}")
    tail = ""
    if start_segment:
        tail = f", part {start_segment // segments + 1}" if segments and start_segment % segments == 0 else \
            f", from segment {int(start_segment)}"
    return finish(f"{head}, seed {int(seed)}{tail}")


# ---- from a recipe (what a job and `retitle` both call) -------------------------------------------------
Names = Callable[[int], str]  # artwork id -> its name as a title shows it (quoted title, or "a melody")


def no_names(_artwork_id: int) -> str:
    return "an earlier work"


def melody_ref(ref: Any, names: Names) -> str:
    """A Music-VAE input melody (``artwork:ID``, ``corpus:NAME``, a MIDI path, ``events``) in words."""
    ref = str(ref or "")
    if ref.startswith("artwork:"):
        try:
            return names(int(ref.split(":", 1)[1]))
        except ValueError:
            return "an earlier melody"
    if ref.startswith("corpus:"):
        path = ref[len("corpus:"):].strip("/")
        piece = words(path.rsplit("/", 1)[-1])
        composer = words(path.split("/", 1)[0]) if "/" in path else ""
        composer = {"ryans Mammoth": "Ryan's Mammoth Collection"}.get(composer, composer.capitalize())
        if not piece:
            return f"a tune from {composer}" if composer else "a corpus tune"
        return f"{quote(piece)} ({composer})" if composer else quote(piece)
    if ref and ref != "events":
        w = words(ref)
        return quote(w) if w else "a MIDI file"
    return "a given melody"


def sound_ref(name: Any) -> str:
    """An LTS anchor sound (or sound file) in words: “rain 01”, or "a sound"."""
    w = words(str(name or ""))
    return quote(w) if w else "a sound"


def _seed(recipe: dict[str, Any]) -> int:
    try:
        return int(recipe.get("seed") or 0)
    except (TypeError, ValueError):
        return 0


def for_recipe(kind: str, recipe: dict[str, Any] | None, names: Names = no_names) -> str:
    """The default title of a work of ``kind`` made by ``recipe`` (``names`` gives the names of the works
    it refers to: a paired visual, an input melody)."""
    r = recipe or {}
    gen = str(r.get("generator") or "")
    seed = _seed(r)
    model = (r.get("model") or {}).get("name") if isinstance(r.get("model"), dict) else None
    if gen == "musicvae":
        op, preset = r.get("op"), r.get("preset")
        if op == "sample":
            count = int(r.get("count") or 1)
            return melody_sample(preset, seed, int(r.get("index") or 0) + 1 if count > 1 else None)
        if op == "interpolate":
            return between(melody_ref((r.get("a") or {}).get("ref"), names),
                           melody_ref((r.get("b") or {}).get("ref"), names))
        if op == "attribute":
            attr = words(str(r.get("attribute") or "")) or "an attribute"
            return finish(f"Variations in {attr} on {melody_ref((r.get('melody') or {}).get('ref'), names)}")
        return finish(f"Melody from {the_model(preset)}")
    if gen == "lts.soundscape":
        if r.get("mode") == "timeline" and r.get("visual_id") is not None:
            return soundscape_for(names(int(r["visual_id"])))
        if r.get("mode") == "between":
            return between(sound_ref((r.get("a") or {}).get("name")), sound_ref((r.get("b") or {}).get("name")),
                           "Soundscape")
        return finish(f"Soundscape from {the_model(r.get('preset'))}")
    if gen == "vqclip.progression" or kind == "progression":
        texts = [next((p.get("text") for p in ph if isinstance(p, dict) and (p.get("weight") or 0) > 0), "")
                 for ph in (r.get("phases") or [])]
        if not any(texts) and isinstance(r.get("prompt"), str):
            texts = [r["prompt"]]
        return prompt_title(texts, r.get("iterations"))
    if gen == "stylegan.walk":
        return walk_title(str(r.get("mode") or ""), seed, model, r.get("keyframes") if r.get("mode") == "chain"
                          else None, int(r.get("start_segment") or 0), int(r.get("segments") or 0))
    if gen == "stylegan.mix":
        rows, cols = r.get("row_seeds") or [], r.get("col_seeds") or []
        layer = r.get("layer_name")
        where = f"{layer} styles" if isinstance(layer, str) else "styles of chosen layers"
        faces = f"{len(rows)} face" + ("s" if len(rows) != 1 else "")
        where = where if len(cols) != 1 else where[:-1] if where.endswith("styles") else where.replace("styles", "style")
        return finish(f"Style mix from {the_model(model)}, {faces} \u00d7 {len(cols)} {where}")
    if gen == "stylegan.bend":
        ops = []
        for b in r.get("bends") or []:
            op = words(str(b.get("op", ""))) if isinstance(b, dict) else ""
            if op and op not in ops:
                ops.append(op)
        return finish(f"Bent face from {the_model(model)}, seed {seed}" + (f" ({', '.join(ops)})" if ops else ""))
    if gen == "stylegan.project":
        target = r.get("target")
        name = words(target.get("name", "")) if isinstance(target, dict) else ""
        what = f"Projection of {quote(name)}" if name else "Projection of a photograph"
        return finish(what + (" (re-rendered)" if r.get("rendered_from") == "latent" else "")
                      + f" into {the_model(model)}")
    if gen == "stylegan.uncanny":
        steps = r.get("steps")
        return finish(f"Amplified uncanny faces from {the_model(model)}, seed {seed}"
                      + (f", {int(steps)} steps" if isinstance(steps, int) else ""))
    if gen == "procedural.images":
        return finish(f"Composition {seed}")
    return finish(f"Untitled {KIND_WORDS.get(kind, kind or 'work')}")


# ---- from the catalogue (retitle, and names of parents) -----------------------------------------------
def curator_titled(art: Any) -> bool:
    return (getattr(art, "extra", None) or {}).get(CURATOR_MARK[0]) == CURATOR_MARK[1]


def is_default(title: str) -> bool:
    """Whether ``title`` is an internal-reference default (empty, an internal reference, or a title the
    generators gave before issue 23) that ``retitle --defaults`` may replace."""
    t = (title or "").strip()
    return not t or looks_internal(t) or any(p.match(t) for p in OLD_DEFAULTS)


class CatalogueNames:
    """Names of works as titles show them, read from the catalogue: the quoted title, the re-derived default
    of a work whose title is an internal reference, or "a melody"."""

    def __init__(self, catalogue: Catalogue, depth: int = 0, overrides: dict[int, str] | None = None) -> None:
        self.catalogue, self.depth = catalogue, depth
        self.overrides = overrides if overrides is not None else {}  # titles about to be written (retitle)

    def __call__(self, artwork_id: int) -> str:
        if int(artwork_id) in self.overrides:
            return quote(self.overrides[int(artwork_id)])
        art = self.catalogue.get(int(artwork_id))
        if art is None:
            return "an earlier work"
        title = (art.title or "").strip()
        if title and not looks_internal(title):
            return quote(title)
        if self.depth < 2:
            return quote(default_title(self.catalogue, art, self.depth + 1, self.overrides))
        return a_kind(art.kind)


def parents_of(catalogue: Catalogue, artwork_id: int) -> list[tuple[int, str]]:
    """(parent id, relation) of a work, from the lineage table, in id order."""
    from sqlalchemy import select

    from catalogue.models import Lineage

    with catalogue.read() as s:
        rows = s.execute(select(Lineage.parent_id, Lineage.relation).where(Lineage.child_id == artwork_id)
                         .order_by(Lineage.parent_id)).all()
    return [(int(p), str(r)) for p, r in rows]


def default_title(catalogue: Catalogue, art: Any, depth: int = 0, overrides: dict[int, str] | None = None) -> str:
    """The default title of a stored work: from its lineage ("between" two works, a "variation" of one),
    else from its recipe. ``overrides``: new titles of other works not written yet."""
    names = CatalogueNames(catalogue, depth, overrides)
    parents = parents_of(catalogue, art.id)
    between_ids = [p for p, rel in parents if rel == "between"]
    varied = [p for p, rel in parents if rel == "variation"]
    if len(between_ids) == 2:
        return between(names(between_ids[0]), names(between_ids[1]))
    if varied:
        return variation_of(names(varied[0]))
    return for_recipe(art.kind, art.recipe, names)
