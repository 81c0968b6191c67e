"""Job kind ``lts.soundscape``: a soundscape between two sounds, or paired to a visual artwork's timeline.

params:
  mode        "between" (default) or "timeline"
  a, b        sources for "between": audio file paths or anchor names of the checkpoint
              (default: two anchors picked with the seed)
  curve       [[t, w], ...] drawn weight curve for "between" (t in 0..1, w may leave 0..1);
              default [[0, 0], [1, 1]]
  interp      "lerp" (default) or "slerp"
  duration    seconds ("between"; default lts.duration); "timeline" takes the visual's duration
  loop        render one period of a loop (default false for "between"; the visual's loop flag for
              "timeline", true when it has none but its first and last keyframes coincide)
  visual_id   the visual artwork ("timeline"), its recipe holds timeline {duration, fps, keyframe_times}
  timeline    ("timeline") used when the visual has none of its own (a still image)
  anchors     optional list of sources, one per keyframe ("timeline"; default: picked with the seed)
  iterations  phase iterations (default lts.phase_iterations)
  checkpoint  path of a checkpoint (default: lts.checkpoint, the trained preset, the shipped weights)
The job's seed is ``ctx.seed``; a variation's steps ``ctx.vary`` ([{sigma, seed}, ...]) move each
source's latents by seeded noise (generator.variation; one offset per source, the same for a source
named twice).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from catalogue import ArtworkDraft, MediaDraft
from catalogue.models import SOUND_KINDS
from gallery.errors import BadInput
from generator import titles
from generator.variation import perturb, vary_steps

if TYPE_CHECKING:
    from catalogue import Catalogue
    from generator.job_params import LTSSoundscape
    from generator.jobs import JobContext

GENERATOR = "lts.soundscape"
VERSION = 1


def visual_timeline(catalogue: Catalogue, visual_id: int, fallback: dict[str, Any] | None = None
                    ) -> tuple[dict[str, Any], bool, str]:
    """The visual's timeline (or ``fallback`` for a still), whether it loops, and its name as a title shows it."""
    art = catalogue.get(int(visual_id))
    if art is None:
        raise BadInput(f"visual artwork {visual_id} is not in the catalogue")
    if art.kind in SOUND_KINDS:
        raise BadInput(f"artwork {visual_id} is a {art.kind}, not a visual artwork")
    tl = (art.recipe or {}).get("timeline") or fallback
    if tl is None and art.duration:
        # a time-based work without a timeline of its own: its whole length, one keyframe at the start
        tl = {"duration": float(art.duration), "keyframe_times": [0.0]}
    if not isinstance(tl, dict) or "duration" not in tl:
        raise BadInput(f"artwork {visual_id} ({art.kind}) has no timeline in its recipe: pair with a time-based "
                       "work or give a timeline {duration, keyframe_times}")
    try:
        duration = float(tl["duration"])
        kt = [float(v) for v in tl.get("keyframe_times") or [0.0]]
    except (TypeError, ValueError) as e:
        raise BadInput(f"artwork {visual_id}: timeline {tl} is malformed") from e
    if not duration > 0:
        raise BadInput(f"artwork {visual_id}: timeline duration {duration} must be positive")
    # keyframes within one video frame of the ends are clamped onto them (rounding of frame times)
    tol = 1.0 / float(tl["fps"]) if isinstance(tl.get("fps"), int | float) and tl["fps"] > 0 else 0.05
    if any(t < -tol or t > duration + tol for t in kt):
        raise BadInput(f"artwork {visual_id}: keyframe_times {kt} lie outside 0..{duration}")
    kt = [min(max(t, 0.0), duration) for t in kt]
    timeline = {"duration": duration, "fps": tl.get("fps"), "keyframe_times": kt}
    loop = tl.get("loop", (art.recipe or {}).get("loop"))
    if loop is None:
        loop = len(kt) > 1 and (abs(kt[-1] - duration) < 1e-6 and kt[0] == 0.0)
    return timeline, bool(loop), titles.CatalogueNames(catalogue)(art.id)


def vary_source(src: Any, steps: list[dict[str, Any]], key: int) -> Any:
    """A source (anchor) with its latent frames moved by one seeded offset per ``vary`` step."""
    if not steps:
        return src
    z = np.asarray(src.latents, dtype=np.float64)
    scale = float(np.sqrt(np.mean(z ** 2))) or 1.0
    offset = perturb(np.zeros(z.shape[-1]), steps, key=(key,)) * scale  # rms of zeros: noise of unit scale
    return type(src)(src.name, z + offset, src.sha256)


def soundscape(params: LTSSoundscape, ctx: JobContext) -> list[ArtworkDraft]:
    from generator.lts import synth

    t0 = time.monotonic()
    settings = ctx.settings
    seed = ctx.seed
    mode = params.mode
    iterations = params.iterations if params.iterations is not None else settings.lts.phase_iterations
    if not 0 <= iterations <= 500:
        raise BadInput(f"iterations {iterations}: choose 0..500")
    from generator.lts.checkpoints import load_configured  # torch: imported when the job runs

    loaded = load_configured(settings, params.checkpoint, device=ctx.device)
    spec = loaded.preset.cqt
    if spec.sr != synth.OUT_SR:
        raise BadInput(f"checkpoint {loaded.path} works at {spec.sr} Hz; soundscapes are {synth.OUT_SR} Hz")
    vary = vary_steps(ctx.vary)
    recipe: dict[str, Any] = {"generator": GENERATOR, "version": VERSION, "mode": mode, "seed": seed,
                              "checkpoint_sha256": loaded.sha256, "preset": loaded.preset.name,
                              "iterations": iterations, "phase_init": "locked", "cqt": loaded.preset.to_dict()["cqt"]}
    pair_with = None
    if mode == "between":
        duration = params.duration if params.duration is not None else settings.lts.duration
        if not 0 < duration <= 3600:
            raise BadInput(f"duration {duration}: choose 0 < seconds <= 3600")
        loop = bool(params.loop)
        picks = synth.pick_anchors(loaded, 2, seed) if not (params.a and params.b) else []
        a_name = params.a or picks[0]
        b_name = params.b or picks[1]
        a, b = (vary_source(synth.source_latents(loaded, str(nm)), vary, [a_name, b_name].index(nm))
                for nm in (a_name, b_name))
        curve = synth.parse_curve(params.curve if params.curve is not None else [[0.0, 0.0], [1.0, 1.0]])
        interp = params.interp
        n = max(1, round(duration * spec.frame_rate))
        z = synth.between_trajectory(a.latents, b.latents, synth.curve_values(curve, n), interp)
        recipe.update({"a": {"name": a.name, "sha256": a.sha256}, "b": {"name": b.name, "sha256": b.sha256},
                       "curve": curve.tolist(), "interp": interp, "duration": duration, "loop": loop})
    elif mode == "timeline":
        if params.visual_id is None:
            raise BadInput("mode timeline needs visual_id (the visual artwork to pair with)")
        fallback = None if params.timeline is None else params.timeline.model_dump(exclude_unset=True)
        timeline, loop, _name = visual_timeline(ctx.catalogue, params.visual_id, fallback)
        loop = params.loop if params.loop is not None else loop
        duration = timeline["duration"]
        kt = timeline["keyframe_times"]
        names = list(params.anchors or synth.pick_anchors(loaded, len(kt), seed))
        if len(names) != len(kt):
            raise BadInput(f"anchors: {len(names)} given for {len(kt)} keyframes")
        if loop and len(kt) > 1 and kt[0] <= 1e-6 and kt[-1] >= duration - 1e-6 and not params.anchors:
            names[-1] = names[0]  # the closing keyframe of a loop is its first one again
        sources = [vary_source(synth.source_latents(loaded, str(nm)), vary, names.index(nm)) for nm in names]
        n = max(1, round(duration * spec.frame_rate))
        z = synth.timeline_trajectory([s.latents for s in sources], kt, duration, n, loop)
        pair_with = (params.visual_id, timeline)
        recipe.update({"visual_id": params.visual_id, "timeline": timeline, "loop": loop, "duration": duration,
                       "anchors": [{"name": s.name, "sha256": s.sha256} for s in sources]})
    else:
        raise BadInput(f"soundscape mode {mode!r}: choose between or timeline")
    if vary:
        recipe["vary"] = vary
    n_samples = round(duration * synth.OUT_SR)
    from gallery.progress import report

    report(ctx, f"rendering {duration:.0f} s of audio ({iterations} phase iterations)", 0, None)
    audio, S = synth.render(loaded, z, n_samples, loop, iterations, settings.lts.peak_dbfs, ctx.device)
    spect = synth.spectrogram_rgb(S)
    thumb = synth.spectrogram_rgb(S, width=128, height=96)
    from gallery.imaging import png_bytes

    media = [MediaDraft(role="audio", mime="audio/wav", data=synth.wav_bytes(audio), duration=duration,
                        meta={"sample_rate": synth.OUT_SR, "loop": loop}),
             MediaDraft(role="spectrogram", mime="image/png", data=png_bytes(spect), width=spect.shape[1],
                        height=spect.shape[0]),
             MediaDraft(role="thumbnail", mime="image/png", data=png_bytes(thumb), width=128, height=96)]
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    features = {"rms_dbfs": 20 * float(np.log10(max(rms, 1e-9)))}
    if loop:
        features["loop_seam"] = synth.loop_seam(audio)
    ctx.catalogue.register_model("lts", loaded.path.name, loaded.sha256, preset=loaded.preset.name,
                                 config=loaded.preset.to_dict(), path=str(loaded.path),
                                 provenance={"info": {k: v for k, v in loaded.info.items() if k != "files"}})
    ctx.log.info("soundscape %s: %.1f s of audio in %.1f s", mode, duration, time.monotonic() - t0)
    title = titles.for_recipe("soundscape", recipe, titles.CatalogueNames(ctx.catalogue))
    return [ArtworkDraft(kind="soundscape", recipe=recipe, media=media, title=title, model_sha256=loaded.sha256,
                         tags=["lts", "soundscape", mode] + (["loop"] if loop else []), features=features,
                         duration=duration, pair_with=pair_with)]
