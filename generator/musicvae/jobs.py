"""Music-VAE generation jobs: sample, interpolate, attribute (registry kinds ``musicvae.*``).

Every melody becomes a ``melody`` artwork with media ``midi``, ``audio`` (WAV), ``pianoroll`` and
``thumbnail``, and a recipe that re-renders it bit for bit on the CPU: checkpoint sha256, seed,
temperature, the latent keyframes, the input melodies' events, instrument and tempo.
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import SOUND_KINDS
from gallery.errors import BadInput
from gallery.imaging import png_size, thumbnail_png
from gallery.progress import report
from generator import titles
from generator.jobs import JobContext
from generator.latent import slerp
from generator.musicvae.checkpoints import LoadedModel, load, resolve
from generator.musicvae.events import (
    NO_EVENT,
    NOTE_OFF,
    NUM_CLASSES,
    STEPS_PER_BAR,
    Unusable,
    mean_pitch,
    note_density,
    sounding,
)
from generator.musicvae.render import (
    events_to_midi,
    instrument_program,
    pianoroll_png,
    render_audio,
    step_seconds,
)
from generator.variation import perturb, vary_steps

if TYPE_CHECKING:
    from gallery.config import Settings
    from generator.job_params import MusicVAEAttribute, MusicVAEInterpolate, MusicVAESample, _MusicVAECommon

GENERATOR = "musicvae"
VERSION = 1
TEMPO_RANGE = (40.0, 240.0)
BAR_BEATS = 4  # quarter notes in a bar (16 steps)
PAIR_FADE_S = 0.25  # a paired melody's audio is cut at the visual's end, fading out over this if sound remains


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float, device: str) -> LoadedModel:
    return load(path, device)


def load_model(settings: Settings, bars: int) -> LoadedModel:
    """The configured (or shipped) checkpoint for 2- or 16-bar melodies, cached per process."""
    if bars not in (2, 16):
        raise BadInput(f"bars must be 2 or 16, not {bars}")
    mv = settings.musicvae
    configured = mv.checkpoint_2bar if bars == 2 else mv.checkpoint_16bar
    path = resolve(configured, settings, "tiny-2bar" if bars == 2 else "tiny-16bar")
    if not path.is_file():
        key = "checkpoint_2bar" if bars == 2 else "checkpoint_16bar"
        raise BadInput(f"musicvae.{key}: checkpoint {path} does not exist "
                       f"(train one: gallery train musicvae --preset tiny-{bars}bar)")
    loaded = _load(str(path), path.stat().st_mtime, "cpu")
    if loaded.model.cfg.bars != bars:
        raise BadInput(f"{path} is a {loaded.model.cfg.bars}-bar model, not {bars}-bar")
    return loaded


def register(ctx: JobContext, loaded: LoadedModel) -> None:
    ctx.catalogue.register_model(GENERATOR, loaded.preset or loaded.path.stem, loaded.sha256,
                                 preset=loaded.preset, config=loaded.model.cfg.to_dict(), path=str(loaded.path),
                                 provenance={"trained": loaded.info})


# ---------------------------------------------------------------------- melody inputs


def melody_from(ref: str, bars: int, ctx: JobContext | None = None) -> tuple[np.ndarray, dict]:
    """A melody to encode: a MIDI file path, ``corpus:NAME`` (music21 corpus) or ``artwork:ID``.

    Returns its first ``bars`` bars as events and a description for the recipe.
    """
    from generator.datasets.melodies import piece_from_midi, piece_from_part, window_events

    ref = str(ref)
    n = bars * STEPS_PER_BAR
    try:
        if ref.startswith("corpus:"):
            from music21 import corpus

            name = ref[len("corpus:"):]
            try:
                sc = corpus.parse(name)
            except Exception as e:  # noqa: BLE001 - music21 raises several kinds for a missing work
                raise Unusable(f"music21's corpus has no work {name!r} ({e})") from None
            parts = list(sc.parts) or [sc]
            # 16-bar melodies are read as played (repeats out), like the 16-bar training data
            piece = piece_from_part(parts[0], ref, "corpus", play_repeats=bars > 2)
        elif ref.startswith("artwork:"):
            if ctx is None:
                raise Unusable("artwork references need a catalogue")
            art = ctx.catalogue.get(int(ref.split(":", 1)[1]))
            midi = [m for m in (art.media if art else []) if m.role == "midi"]
            if not midi:
                raise Unusable("no such melody artwork (with a midi media) in the catalogue")
            # our own melody MIDI ends with its last note: give back any trailing rest it had
            piece = piece_from_midi(ctx.catalogue.media_path(midi[0]), min_bars=0)
            if len(piece.events) < n:
                pad = np.zeros(n - len(piece.events), dtype=np.int64)
                if sounding(piece.events)[-1]:
                    pad[0] = NOTE_OFF
                piece.events = np.concatenate([piece.events, pad])
        else:
            p = Path(ref)
            if not p.is_file():
                raise Unusable("no such file")
            piece = piece_from_midi(p, min_bars=bars)
    except Unusable as e:
        raise BadInput(f"melody {ref}: {e.reason}") from None
    except ValueError as e:
        raise BadInput(f"melody {ref}: {e}") from None
    if len(piece.events) < n:
        raise BadInput(f"melody {ref}: too short ({len(piece.events) / STEPS_PER_BAR:.1f} bars, {bars} needed)")
    return window_events(piece.events, 0, n), {"ref": ref}


def encode_events(loaded: LoadedModel, events: np.ndarray) -> np.ndarray:
    """Encoder means [B, latent] (float64) of melodies [B, T]."""
    ev = np.atleast_2d(np.asarray(events, dtype=np.int64))
    with torch.no_grad():
        mu, _ = loaded.model.encode(torch.as_tensor(ev))
    return mu.double().numpy()


def decode_latents(loaded: LoadedModel, z: np.ndarray, temperature: float, seed: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        ev = loaded.model.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32), temperature, gen)
    return ev.numpy()


# ---------------------------------------------------------------------- artworks


def _common(params: _MusicVAECommon, settings: Settings, seed: int) -> dict[str, Any]:
    mv = settings.musicvae
    bars = params.bars
    temperature = params.temperature if params.temperature is not None else mv.temperature
    if not 0.0 <= temperature <= 5.0:
        raise BadInput(f"temperature {temperature}: use 0 (greedy) .. 5")
    program = instrument_program(params.instrument if params.instrument is not None else mv.instrument)
    tempo = params.tempo if params.tempo is not None else mv.tempo
    if not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
        raise BadInput(f"tempo {tempo}: use {TEMPO_RANGE[0]:.0f}..{TEMPO_RANGE[1]:.0f} beats per minute")
    return {"bars": bars, "temperature": temperature, "instrument": program, "tempo": tempo, "seed": seed}


class NoFit(ValueError):
    """No bar count and tempo in range fills a duration; ``needed`` is the tempo the shortest try needs."""

    def __init__(self, reason: str, needed: float, max_bars: int) -> None:
        super().__init__(reason)
        self.reason, self.needed, self.max_bars = reason, needed, max_bars


@dataclass(frozen=True)
class PhraseFit:
    """How a phrase of ``phrase_bars`` bars fills a visual: ``bars`` bars played (the phrase repeated, or
    cut, always at a bar line) at ``tempo`` beats per minute, lasting ``duration`` seconds."""

    phrase_bars: int
    bars: int
    tempo: float
    duration: float

    def to_dict(self) -> dict[str, Any]:
        whole, part = divmod(self.bars, self.phrase_bars)
        how = ("once" if (whole, part) == (1, 0) else f"{whole} times" if part == 0
               else f"first {part} of {self.phrase_bars} bars" if whole == 0 else f"{whole} times and {part} bars")
        return {"phrase_bars": self.phrase_bars, "bars_played": self.bars,
                "repeats": round(self.bars / self.phrase_bars, 6), "played": how, "tempo": self.tempo,
                "duration": self.duration, "ending": "bar line", "fade_s": PAIR_FADE_S}


def _fit_cost(n: int, phrase: int, tempo: float, preferred: float) -> float:
    """Lower is better: the tempo's distance from the preferred one (octaves), plus a penalty for
    playing part of the phrase (less for a half, quarter… of it than for an odd cut)."""
    cost = abs(math.log2(tempo / preferred))
    part = n % phrase
    if part:
        cost += 0.5 + (0.0 if phrase % part == 0 and (part & (part - 1)) == 0 else 0.25)
    return cost


def fit_phrase(duration: float, phrase_bars: int, preferred: float, whole: bool = False,
               tempo_range: tuple[float, float] = TEMPO_RANGE) -> PhraseFit:
    """Bars and tempo that fill ``duration`` seconds with a phrase of ``phrase_bars`` bars.

    The phrase repeats as often as needed (a long visual) and, unless ``whole``, may be cut at a bar
    line (a short one); the tempo stays in ``tempo_range``, as near ``preferred`` as the bar count
    allows. Raises :class:`NoFit` when even the fewest bars allowed need a tempo above the range."""
    lo, hi = tempo_range
    if not (math.isfinite(duration) and duration > 0):
        raise NoFit(f"a duration of {duration} s cannot be filled", math.inf, 0)
    bar_s = 60.0 * BAR_BEATS  # seconds of a bar at 1 bpm: n bars last bar_s * n / tempo
    n_min = max(1, math.ceil(duration * lo / bar_s - 1e-9))
    n_max = math.floor(duration * hi / bar_s + 1e-9)
    step = phrase_bars if whole else 1
    first = max(step, math.ceil(n_min / step) * step)
    best: tuple[float, int] | None = None
    for n in range(first, n_max + 1, step):
        tempo = bar_s * n / duration
        cost = _fit_cost(n, phrase_bars, tempo, preferred)
        if best is None or cost < best[0] - 1e-12:
            best = (cost, n)
    if best is None:
        fewest = step
        needed = bar_s * fewest / duration
        raise NoFit(f"{fewest} bar{'s' if fewest > 1 else ''} need{'s' if fewest == 1 else ''} {needed:.0f} bpm "
                    f"there, above the {hi:.0f} bpm limit", needed, n_max)
    n = best[1]
    return PhraseFit(phrase_bars, n, bar_s * n / duration, float(duration))


def played_events(phrase: np.ndarray, bars: int) -> np.ndarray:
    """The phrase played for ``bars`` bars: repeated (each repeat starts as the phrase does: a note held
    over the end is released if the phrase opens with a rest) and cut at the last bar line."""
    phrase = np.asarray(phrase, dtype=np.int64)
    n = bars * STEPS_PER_BAR
    if n <= len(phrase):
        return phrase[:n].copy()
    again = phrase.copy()
    if again[0] == NO_EVENT and sounding(phrase)[-1]:
        again[0] = NOTE_OFF
    reps = -(-(n - len(phrase)) // len(phrase))
    return np.concatenate([phrase, *([again] * reps)])[:n]


def fit_audio(wav_path: Path, duration: float, fade_s: float = PAIR_FADE_S) -> float:
    """Cut or pad a rendered WAV to exactly ``duration`` (a note ringing past the last bar line is
    faded out over ``fade_s``); returns its new duration."""
    import soundfile as sf

    data, sr = sf.read(str(wav_path), dtype="int16", always_2d=True)
    n = round(duration * sr)
    if len(data) >= n:
        data = data[:n].copy()
    else:
        data = np.concatenate([data, np.zeros((n - len(data), data.shape[1]), dtype=np.int16)])
    k = min(round(fade_s * sr), n // 4)
    if k > 0 and np.any(data[n - k:]):
        ramp = np.linspace(1.0, 0.0, k)[:, None]
        data[n - k:] = np.round(data[n - k:].astype(np.float64) * ramp).astype(np.int16)
    sf.write(str(wav_path), data, sr, subtype="PCM_16")
    return n / sr


def _visual_duration(params: _MusicVAECommon, ctx: JobContext) -> tuple[int, float | None, dict] | None:
    """The visual a melody pairs with: (id, duration or None for a still, its timeline), or None."""
    vid = params.pair_with
    if vid is None:
        return None
    art = ctx.catalogue.get(int(vid))
    if art is None:
        raise BadInput(f"pair_with: no artwork {vid} in the catalogue")
    if art.kind in SOUND_KINDS:
        raise BadInput(f"pair_with: artwork {vid} is a {art.kind}; pair a melody with a visual artwork")
    timeline = dict((art.recipe or {}).get("timeline") or {})
    duration = art.duration or timeline.get("duration")
    return int(vid), (float(duration) if duration else None), timeline


def _pairing(params: _MusicVAECommon, ctx: JobContext, phrase_bars: int, tempo: float, whole: bool,
             what: str) -> tuple[PhraseFit | None, tuple[int, dict] | None]:
    """Pair with a visual artwork: the melody fills the visual's duration (bars played, tempo);
    a still (no duration) takes the melody's own length. ``what`` names the phrase in errors."""
    visual = _visual_duration(params, ctx)
    if visual is None:
        return None, None
    vid, duration, timeline = visual
    if duration is None:
        fit = None
        timeline.setdefault("duration", phrase_bars * STEPS_PER_BAR * step_seconds(tempo))
    else:
        try:
            fit = fit_phrase(duration, phrase_bars, tempo, whole)
        except NoFit as e:
            raise BadInput(f"pair_with: {what} cannot fit artwork {vid}'s {duration:.2f} s: {e.reason}; "
                           + _advice(e, what, params)) from None
        timeline["duration"] = float(duration)
    return fit, (vid, timeline)


def _advice(e: NoFit, what: str, params: _MusicVAECommon) -> str:
    """Which way to change the request: fewer steps or bars fit a short visual, never more."""
    hi = TEMPO_RANGE[1]
    if what.startswith("interpolation"):
        bars = params.bars
        if e.max_bars // bars >= 2:
            return f"choose fewer steps: at most {e.max_bars // bars} ({e.max_bars} bars fit at {hi:.0f} bpm)"
        if bars > 2 and e.max_bars // 2 >= 2:
            return f"choose 2 bars a step (then at most {e.max_bars // 2} steps fit at {hi:.0f} bpm)"
        return f"pair with a visual of at least {4 * 60.0 * BAR_BEATS / hi:.1f} s (2 steps of 2 bars at {hi:.0f} bpm)"
    return f"pair with a visual of at least {60.0 * BAR_BEATS / hi:.1f} s (1 bar at {hi:.0f} bpm)"


def melody_draft(ctx: JobContext, loaded: LoadedModel, rows: list[np.ndarray], recipe: dict[str, Any], title: str,
                 labels: list[str] | None = None, parents: list[tuple[int, str]] | None = None,
                 pair: tuple[int, dict] | None = None, tags: list[str] | None = None,
                 fit: PhraseFit | None = None) -> ArtworkDraft:
    """Render a melody (the rows played one after another) into a catalogue draft.

    With ``fit`` (a melody paired with a visual) the rows are played for ``fit.bars`` bars at
    ``fit.tempo`` (repeated or cut at a bar line) and the audio lasts exactly ``fit.duration``."""
    workdir = Path(ctx.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    events = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
    if fit is not None:
        events = played_events(events, fit.bars)
    stem = f"musicvae-{recipe['op']}-{hashlib.sha256(str(recipe).encode()).hexdigest()[:12]}"
    midi_path = workdir / f"{stem}.mid"
    wav_path = workdir / f"{stem}.wav"
    duration = events_to_midi(events, midi_path, recipe["tempo"], recipe["instrument"])
    audio_s = render_audio(midi_path, wav_path, ctx.settings.musicvae.soundfont)
    if fit is not None:
        duration = fit.duration
        audio_s = fit_audio(wav_path, fit.duration)
    roll = pianoroll_png(rows, labels=labels)
    thumb, tw, th = thumbnail_png(roll)
    rw, rh = png_size(roll)
    media = [MediaDraft(role="midi", mime="audio/midi", data=midi_path.read_bytes(), duration=duration),
             MediaDraft(role="audio", mime="audio/wav", data=wav_path.read_bytes(), duration=audio_s,
                        meta={"sample_rate": 44100, "instrument": recipe["instrument"]}),
             MediaDraft(role="pianoroll", mime="image/png", data=roll, width=rw, height=rh),
             MediaDraft(role="thumbnail", mime="image/png", data=thumb, width=tw, height=th)]
    for p in (midi_path, wav_path):
        p.unlink(missing_ok=True)
    return ArtworkDraft(kind="melody", recipe=recipe, media=media, title=title, model_sha256=loaded.sha256,
                        tags=["musicvae", f"{recipe['bars']}bar", recipe["op"], *(tags or [])],
                        parents=parents or [], duration=duration, pair_with=pair,
                        features={"note_density": note_density(events), "mean_pitch": mean_pitch(events)})


def _recipe(op: str, c: dict[str, Any], loaded: LoadedModel, **kw: Any) -> dict[str, Any]:
    return {"generator": GENERATOR, "version": VERSION, "op": op, "checkpoint_sha256": loaded.sha256,
            "preset": loaded.preset, **c, **kw}


def _attribute_shift(loaded: LoadedModel, attribute: dict[str, float] | None) -> np.ndarray:
    shift = np.zeros(loaded.model.cfg.latent)
    for name, amount in (attribute or {}).items():
        if name not in loaded.attributes:
            raise BadInput(f"attribute {name!r} is not in this checkpoint; it has {sorted(loaded.attributes)}")
        shift = shift + float(amount) * loaded.attributes[name].double().numpy()
    return shift


def given_latents(value: Any, key: str, dim: int) -> np.ndarray:
    """Latent vectors given in the params as ``key`` (a list of ``dim`` numbers, or a list of such lists): [N, dim]."""
    try:
        z = np.atleast_2d(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise BadInput(f"{key}: give a list of {dim} numbers (or a list of such lists)") from None
    if z.ndim != 2 or z.shape[1] != dim or not 1 <= len(z) <= 256 or not np.all(np.isfinite(z)):
        raise BadInput(f"{key}: 1..256 finite latent vectors of {dim} numbers are needed (this checkpoint's "
                       f"latent size), got shape {z.shape}")
    return z


def sample(params: MusicVAESample, ctx: JobContext) -> list[ArtworkDraft]:
    """``count`` melodies from the prior, z ~ N(0, I) (plus attribute shifts), at a temperature; or the
    given latents ``z`` (a variation: a melody's z moved by the ``ctx.vary`` steps)."""
    c = _common(params, ctx.settings, ctx.seed)
    count = params.count
    attribute = dict(params.attribute or {})
    vary = vary_steps(ctx.vary)
    loaded = load_model(ctx.settings, c["bars"])
    register(ctx, loaded)
    if params.z is not None:  # the shifts of attribute are already in a recorded z
        z = given_latents(params.z, "z", loaded.model.cfg.latent)
        count = len(z)
    else:
        gen = torch.Generator().manual_seed(c["seed"])
        z = torch.randn(count, loaded.model.cfg.latent, generator=gen).double().numpy()
        z = z + _attribute_shift(loaded, attribute)
    z = perturb(z, vary, keep_norm=True)
    events = decode_latents(loaded, z, c["temperature"], c["seed"])
    fit, pair = _pairing(params, ctx, c["bars"], c["tempo"], whole=False, what=f"a {c['bars']}-bar melody")
    extra = _fit_recipe(fit, pair, c)
    drafts = []
    for i in range(count):
        report(ctx, "rendering melodies", i, count)
        recipe = _recipe("sample", c, loaded, index=i, count=count, attribute=attribute,
                         z=[round(float(v), 8) for v in z[i]], events=events[i].tolist(), **extra,
                         **({"vary": vary} if vary else {}))
        drafts.append(melody_draft(ctx, loaded, [events[i]], recipe, titles.for_recipe("melody", recipe),
                                   pair=pair if i == 0 else None, fit=fit))
    return drafts


def _fit_recipe(fit: PhraseFit | None, pair: tuple[int, dict] | None, c: dict[str, Any]) -> dict[str, Any]:
    """What pairing chose, for the recipe (the tempo goes into ``c``: the melody is played at it)."""
    if fit is None:
        return {}
    preferred = c["tempo"]
    c["tempo"] = fit.tempo
    assert pair is not None
    return {"fit": {**fit.to_dict(), "visual_id": pair[0], "preferred_tempo": preferred}}


def interpolation_latents(loaded: LoadedModel, a: np.ndarray, b: np.ndarray, steps: int,
                          vary: list[dict[str, Any]] | None = None) -> np.ndarray:
    """Slerp between the encoder means of melodies a and b (moved by ``vary`` steps): [steps, latent]."""
    mu = perturb(encode_events(loaded, np.stack([a, b])), vary or [])
    return slerp(mu[0], mu[1], np.linspace(0.0, 1.0, steps))


def interpolate(params: MusicVAEInterpolate, ctx: JobContext) -> list[ArtworkDraft]:
    """Slerp between the encoder means of two melodies; one artwork plays every step in turn."""
    c = _common(params, ctx.settings, ctx.seed)
    c["temperature"] = params.temperature if params.temperature is not None else 0.0
    steps = params.steps
    loaded = load_model(ctx.settings, c["bars"])
    register(ctx, loaded)
    ends = []
    parents = []
    for key, end in (("a", params.a), ("b", params.b)):
        if isinstance(end, list):
            ev = np.asarray(end, dtype=np.int64)
            if ev.shape != (c["bars"] * STEPS_PER_BAR,) or ev.min() < 0 or ev.max() >= NUM_CLASSES:
                raise BadInput(f"melody {key}: {c['bars'] * STEPS_PER_BAR} events in 0..{NUM_CLASSES - 1} needed")
            ends.append((ev, {"ref": "events"}))
        else:
            ends.append(melody_from(end, c["bars"], ctx))
            if end.startswith("artwork:"):
                parents.append((int(end.split(":", 1)[1]), "between"))
    vary = vary_steps(ctx.vary)  # a variation: both ends moved
    z = interpolation_latents(loaded, ends[0][0], ends[1][0], steps, vary)
    events = decode_latents(loaded, z, c["temperature"], c["seed"])
    fit, pair = _pairing(params, ctx, steps * c["bars"], c["tempo"], whole=True,
                         what=f"interpolation of {steps} steps x {c['bars']} bars")
    extra = _fit_recipe(fit, pair, c)
    recipe = _recipe("interpolate", c, loaded, steps=steps, method="slerp of encoder means",
                     a={**ends[0][1], "events": ends[0][0].tolist()}, b={**ends[1][1], "events": ends[1][0].tolist()},
                     keyframes=[[round(float(v), 8) for v in z[0]], [round(float(v), 8) for v in z[-1]]],
                     events=events.tolist(), **extra, **({"vary": vary} if vary else {}))
    labels = [f"t={t:.2f}" for t in np.linspace(0, 1, steps)]
    title = titles.for_recipe("melody", recipe, titles.CatalogueNames(ctx.catalogue))
    return [melody_draft(ctx, loaded, list(events), recipe, title, labels=labels, parents=parents, pair=pair,
                         fit=fit)]


def attribute(params: MusicVAEAttribute, ctx: JobContext) -> list[ArtworkDraft]:
    """Add an attribute vector (e.g. note density) to a melody's code in several amounts."""
    c = _common(params, ctx.settings, ctx.seed)
    c["temperature"] = params.temperature if params.temperature is not None else 0.0
    name = params.attribute
    amounts = list(params.amounts) if params.amounts is not None else [-1.0, 0.0, 1.0]
    loaded = load_model(ctx.settings, c["bars"])
    register(ctx, loaded)
    if isinstance(params.melody, list):  # the events themselves (a recipe's melody)
        ev = np.asarray(params.melody, dtype=np.int64)
        if ev.shape != (c["bars"] * STEPS_PER_BAR,) or ev.min() < 0 or ev.max() >= NUM_CLASSES:
            raise BadInput(f"melody: {c['bars'] * STEPS_PER_BAR} events in 0..{NUM_CLASSES - 1} needed")
        desc = {"ref": "events"}
    else:
        ev, desc = melody_from(params.melody, c["bars"], ctx)
    vary = vary_steps(ctx.vary)  # a variation: the melody's code moved
    mu = perturb(encode_events(loaded, ev[None])[0], vary)
    z = np.stack([mu + _attribute_shift(loaded, {name: a}) for a in amounts])
    events = decode_latents(loaded, z, c["temperature"], c["seed"])
    recipe = _recipe("attribute", c, loaded, attribute=name, amounts=amounts, melody={**desc, "events": ev.tolist()},
                     z0=[round(float(v), 8) for v in mu], events=events.tolist(), **({"vary": vary} if vary else {}))
    labels = [f"{name} {a:+g}" for a in amounts]
    title = titles.for_recipe("melody", recipe, titles.CatalogueNames(ctx.catalogue))
    return [melody_draft(ctx, loaded, list(events), recipe, title, labels=labels)]
