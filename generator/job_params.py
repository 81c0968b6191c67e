"""Typed parameters of every job kind: one strict pydantic model per kind, in one torch-free place.

``gallery config check`` (and every start) validates each scheduled job entry's ``params`` against
the model of its kind, so a misspelt or ill-typed parameter is an error that names the window, the
entry and the key before the night starts, not a job that fails (or silently ignores it) at 3 am.
The models mirror what each family's job function reads (generator/stylegan/jobs.py, project.py,
uncanny.py, vqgan_clip/jobs.py, lts/jobs.py, musicvae/jobs.py, procedural.py), with the same ranges;
checks that need a model or the catalogue (layer names, anchor names, artwork ids) stay in the jobs.

Kinds without a model (``noop`` and custom ``module:function`` jobs) take any parameters, as JSON
data within :data:`PARAM_LIMITS` (size, nesting, string length).

Which model belongs to which kind is said once, in the job registry (``generator.registry.KINDS``).
Importing this module never imports torch.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

# ---- limits of any job's params (typed or not) -----------------------------------------------------


@dataclass(frozen=True)
class ParamLimits:
    max_values: int = 10_000  # scalars, lists and mappings, all levels together
    max_depth: int = 12
    max_string: int = 10_000  # characters of one string
    max_json_bytes: int = 256 * 1024  # the params as JSON (they are stored in every run row)


PARAM_LIMITS = ParamLimits()


def check_json_data(params: Any, limits: ParamLimits = PARAM_LIMITS) -> None:
    """Params must be JSON data (str, int, float, bool, null, lists, string-keyed mappings) within limits.
    Raises ValueError naming the key path, never echoing a value."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a mapping of names to values, got {type(params).__name__}")
    count = 0
    stack: list[tuple[Any, str, int]] = [(params, "params", 0)]
    while stack:
        v, path, depth = stack.pop()
        count += 1
        if count > limits.max_values:
            raise ValueError(f"params hold more than {limits.max_values} values")
        if depth > limits.max_depth:
            raise ValueError(f"{path}: nested more than {limits.max_depth} levels deep")
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str):
                    raise ValueError(f"{path}: keys must be text, got a {type(k).__name__}")
                stack.append((x, f"{path}.{k}", depth + 1))
        elif isinstance(v, list):
            stack.extend((x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v))
        elif isinstance(v, str):
            if len(v) > limits.max_string:
                raise ValueError(f"{path}: text longer than {limits.max_string} characters")
        elif isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"{path}: must be a finite number")
        elif not (v is None or isinstance(v, bool | int)):
            raise ValueError(f"{path}: must be JSON data (text, number, true/false, null, list, mapping), "
                             f"got a {type(v).__name__}")
    if len(json.dumps(params)) > limits.max_json_bytes:
        raise ValueError(f"params take more than {limits.max_json_bytes} bytes as JSON")


# ---- shared field types ----------------------------------------------------------------------------
class Params(BaseModel):
    """Base of every kind's params: unknown keys are errors; bools must be true/false (not "no")."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Seed = Annotated[int, Field(ge=0, lt=2 ** 32)]
Text = Annotated[str, Field(min_length=1, max_length=4096)]
NonNeg = Annotated[int, Field(ge=0)]


def _seed_list(v: Any) -> Any:
    """Seeds as a list of ints or a "1,2,3" string (as generator/stylegan/jobs.py:_seeds reads them)."""
    if isinstance(v, str):
        parts = [s for s in v.replace(" ", "").split(",") if s]
        if not all(p.isdigit() for p in parts):
            raise ValueError("must be a list of integer seeds or a string like '1,2,3'")
        return [int(p) for p in parts]
    return v


SeedList = Annotated[list[Seed], Field(min_length=1, max_length=4096)]

# Bend ops of generator/stylegan/bend.py (kept equal by a test; bend.py imports torch).
BEND_OPS = ("translate", "scale", "rotate", "erode", "dilate", "multiply", "threshold", "flip", "invert", "ablate")


class Bend(Params):
    """One network bend (generator/stylegan/bend.py:normalise); the layer is checked against the model."""

    layer: Annotated[str, Field(min_length=1, max_length=64)]
    op: Literal[BEND_OPS]  # type: ignore[valid-type]
    amount: float | None = None
    channels: Annotated[list[NonNeg], Field(min_length=1, max_length=4096)] | None = None
    fraction: Annotated[float, Field(gt=0, le=1)] | None = None
    seed: NonNeg | None = None

    @model_validator(mode="after")
    def _amount(self) -> Bend:
        a = self.amount
        if a is not None and not math.isfinite(a):
            raise ValueError("amount must be a finite number")
        if self.op == "scale" and a is not None and a <= 0:
            raise ValueError("scale: amount must be > 0")
        if self.op in ("erode", "dilate") and a is not None and (a < 1 or a != int(a) or int(a) % 2 == 0):
            raise ValueError(f"{self.op}: amount must be an odd whole number >= 1")
        return self


Bends = Annotated[list[Bend], Field(max_length=64)]


# ---- StyleGAN --------------------------------------------------------------------------------------
class _StyleGANCommon(Params):
    """load_model + common() of generator/stylegan/jobs.py."""

    model: Text | None = None
    psi: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    noise_mode: Literal["const", "random", "none"] | None = None
    size: Annotated[int, Field(ge=16, le=4096)] | None = None
    batch: Annotated[int, Field(ge=1, le=256)] | None = None


class StyleGANWalk(_StyleGANCommon):
    mode: Literal["endless", "chain", "loop"] = "endless"
    space: Literal["z", "w"] = "z"
    seconds: Annotated[float, Field(ge=0.05, le=3600)] | None = None
    seconds_per_keyframe: Annotated[float, Field(ge=0.05, le=600)] | None = None
    start_segment: Annotated[int, Field(ge=0, le=2 ** 40)] | None = None
    keyframes: SeedList | None = None
    loop: StrictBool = False
    constant_speed: StrictBool = False
    fps: Annotated[int, Field(ge=1, le=120)] | None = None
    bends: Bends | None = None

    @field_validator("keyframes", mode="before")
    @classmethod
    def _seed_lists(cls, v: Any) -> Any:
        return _seed_list(v)

    @model_validator(mode="after")
    def _by_mode(self) -> StyleGANWalk:
        if self.keyframes is not None and len(self.keyframes) < 2:
            raise ValueError("keyframes: a chain walk needs at least 2 keyframe seeds")
        only = {"keyframes": "chain", "loop": "chain", "start_segment": "endless"}
        ignored = [k for k, m in only.items() if k in self.model_fields_set and self.mode != m]
        if ignored:
            raise ValueError(f"{', '.join(ignored)}: not used by a walk of mode {self.mode} "
                             f"({', '.join(f'{k}: mode {only[k]}' for k in ignored)})")
        return self


class StyleGANMix(_StyleGANCommon):
    row_seeds: SeedList | None = None
    col_seeds: SeedList | None = None
    layers: Literal["coarse", "middle", "fine"] | Annotated[list[NonNeg], Field(min_length=2, max_length=2)] = "coarse"
    bends: Bends | None = None
    labels: StrictBool = True

    @field_validator("row_seeds", "col_seeds", mode="before")
    @classmethod
    def _seed_lists(cls, v: Any) -> Any:
        return _seed_list(v)

    @model_validator(mode="after")
    def _grid(self) -> StyleGANMix:
        if isinstance(self.layers, list) and not self.layers[0] < self.layers[1]:
            raise ValueError("layers: [start, stop) needs start < stop")
        if len(self.row_seeds or [0] * 3) * len(self.col_seeds or [0] * 3) > 256:
            raise ValueError("style mixing grid too large (at most 256 cells)")
        return self


class StyleGANBend(_StyleGANCommon):
    bends: Annotated[list[Bend], Field(min_length=1, max_length=64)]
    seeds: SeedList | None = None

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_lists(cls, v: Any) -> Any:
        return _seed_list(v)


Floats = Annotated[list[float], Field(min_length=1, max_length=4096)]


class StyleGANProject(_StyleGANCommon):
    """An image to project, or a projection's w (and per-layer ws) to render again (a variation)."""

    image: Text | None = None
    steps: Annotated[int, Field(ge=1, le=100_000)] = 300
    lr: Annotated[float, Field(ge=1e-5, le=10.0)] = 0.05
    wplus: StrictBool = True
    w: Floats | None = None
    ws: Annotated[list[Floats], Field(min_length=1, max_length=64)] | None = None
    target: Text | dict[Annotated[str, Field(max_length=64)], Text] | None = None  # a recipe's {name, sha256}

    @model_validator(mode="after")
    def _source(self) -> StyleGANProject:
        if self.image is None and self.w is None:
            raise ValueError("needs image (a path to project) or w (a projection to render)")
        return self


class StyleGANUncanny(_StyleGANCommon):
    steps: Annotated[int, Field(ge=1, le=100_000)] = 200
    snapshot_every: Annotated[int, Field(ge=1, le=100_000)] | None = None
    lr: Annotated[float, Field(ge=1e-6, le=1.0)] = 0.002
    faces: Annotated[int, Field(ge=1, le=64)] = 8
    seeds: SeedList | None = None
    fps: Annotated[int, Field(ge=1, le=120)] | None = None
    seconds_per_snapshot: Annotated[float, Field(ge=0.04, le=60)] = 0.75
    schedule: Literal["path", "even"] = "path"

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_lists(cls, v: Any) -> Any:
        return _seed_list(v)


# ---- VQGAN+CLIP ------------------------------------------------------------------------------------
Side = Annotated[int, Field(ge=16, le=2048)]


class VQClipProgression(Params):
    """generator/vqgan_clip/jobs.py:build_params (the prompt's story syntax is checked by the job)."""

    prompt: Annotated[str, Field(min_length=1, max_length=1000)]
    size: Side | None = None
    width: Side | None = None
    height: Side | None = None
    iterations: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    snapshots: Annotated[list[NonNeg], Field(min_length=1, max_length=1000)] | None = None
    image_prompts: Annotated[list[Text], Field(max_length=64)] | None = None
    init_image: Text | None = None
    zoom: StrictBool = False
    zoom_every: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    zoom_scale: Annotated[float, Field(gt=0, le=10)] | None = None
    cutouts: Annotated[int, Field(ge=1, le=256)] | None = None
    cut_pow: Annotated[float, Field(gt=0, le=100)] | None = None
    min_cut: Annotated[float, Field(gt=0, le=1)] | None = None
    optimiser: Literal["adam", "adamw", "sgd"] | None = None
    lr: Annotated[float, Field(gt=0, le=100)] | None = None
    story_every: NonNeg | None = None
    video: StrictBool = False
    finetune_decoder: StrictBool = False
    decoder_lr: Annotated[float, Field(gt=0, le=100)] | None = None
    tv_weight: Annotated[float, Field(ge=0, le=100)] | None = None
    fps: Annotated[int, Field(ge=1, le=120)] | None = None
    video_stride: Annotated[int, Field(ge=1, le=100_000)] | None = None
    init_codes: Annotated[list[Annotated[list[NonNeg], Field(min_length=1, max_length=512)]],
                          Field(min_length=1, max_length=512)] | None = None
    model: Text | None = None  # a registered VQGAN's name or a weights file (null: vqclip.vqgan_checkpoint)

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt is empty")
        return v

    @model_validator(mode="after")
    def _unused(self) -> VQClipProgression:
        needs = {"zoom_every": "zoom", "zoom_scale": "zoom", "decoder_lr": "finetune_decoder"}
        ignored = [k for k, flag in needs.items() if k in self.model_fields_set and not getattr(self, flag)]
        if ignored:
            raise ValueError(f"{', '.join(ignored)}: not used unless "
                             f"{' and '.join(sorted({needs[k] for k in ignored}))} is true")
        return self


# ---- LTS -------------------------------------------------------------------------------------------
class Timeline(Params):
    duration: Annotated[float, Field(gt=0, le=24 * 3600)]
    fps: Annotated[int | float, Field(gt=0, le=1000)] | None = None  # an int stays an int in the recipe
    keyframe_times: Annotated[list[float], Field(max_length=100_000)] | None = None
    loop: StrictBool | None = None


class LTSSoundscape(Params):
    """generator/lts/jobs.py:soundscape (anchor names and the visual are checked by the job)."""

    mode: Literal["between", "timeline"] = "between"
    a: Text | None = None
    b: Text | None = None
    curve: str | Annotated[list[Annotated[list[float], Field(min_length=2, max_length=2)]],
                           Field(min_length=1, max_length=10_000)] | None = None
    interp: Literal["lerp", "slerp"] = "lerp"
    duration: Annotated[float, Field(gt=0, le=3600)] | None = None
    loop: StrictBool | None = None
    visual_id: Annotated[int, Field(ge=1)] | None = None
    timeline: Timeline | None = None
    anchors: Annotated[list[Text], Field(min_length=1, max_length=10_000)] | None = None
    iterations: Annotated[int, Field(ge=0, le=500)] | None = None
    checkpoint: Text | None = None

    @model_validator(mode="after")
    def _mode(self) -> LTSSoundscape:
        if self.mode == "timeline":
            if self.visual_id is None:
                raise ValueError("mode timeline needs visual_id (set pair_with: previous_visual and "
                                 "pair_param: visual_id on the entry)")
            extra = [k for k in ("a", "b", "curve", "duration") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for mode between (timeline takes the visual's)")
        else:
            extra = [k for k in ("visual_id", "timeline", "anchors") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)}: only for mode timeline")
        return self


# ---- Music-VAE -------------------------------------------------------------------------------------
Melody = Annotated[str, Field(min_length=1, max_length=4096)]  # a MIDI path, corpus:NAME or artwork:ID


class _MusicVAECommon(Params):
    """_common and _pairing of generator/musicvae/jobs.py."""

    bars: Literal[2, 16] = 2
    temperature: Annotated[float, Field(ge=0.0, le=5.0)] | None = None
    instrument: Annotated[int, Field(ge=0, le=127)] | Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tempo: Annotated[float, Field(ge=40.0, le=240.0)] | None = None
    pair_with: Annotated[int, Field(ge=1)] | None = None


class MusicVAESample(_MusicVAECommon):
    count: Annotated[int, Field(ge=1, le=256)] = 1
    z: Annotated[list[Annotated[list[float], Field(min_length=1, max_length=4096)]],
                 Field(min_length=1, max_length=256)] | None = None
    attribute: dict[Annotated[str, Field(min_length=1, max_length=64)], float] | None = None


class MusicVAEInterpolate(_MusicVAECommon):
    a: Melody | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=4096)]
    b: Melody | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=4096)]
    steps: Annotated[int, Field(ge=2, le=64)] = 5


class MusicVAEAttribute(_MusicVAECommon):
    melody: Melody | Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=4096)]
    attribute: Annotated[str, Field(min_length=1, max_length=64)] = "density"
    amounts: Annotated[list[float], Field(min_length=1, max_length=32)] | None = None


# ---- procedural ------------------------------------------------------------------------------------
class ProceduralImages(Params):
    """generator/procedural.py:run."""

    count: Annotated[int, Field(ge=1, le=256)] = 4
    size: Annotated[int, Field(ge=16, le=4096)] = 256


# The least each kind needs (the others have defaults): for docs, `config check` messages and tests.
REQUIRED_EXAMPLES: dict[str, dict[str, Any]] = {
    "vqclip.progression": {"prompt": "a red circle"},
    "stylegan.bend": {"bends": [{"layer": "b8.conv1", "op": "rotate"}]},
    "stylegan.project": {"image": "face.png"},
    "musicvae.interpolate": {"a": "corpus:bach/bwv66.6", "b": "corpus:bach/bwv67.7"},
    "musicvae.attribute": {"melody": "corpus:bach/bwv66.6"},
}


def _show(v: Any) -> str:
    from gallery.redact import redact

    r = repr(v)
    return redact(r if len(r) <= 60 else r[:60] + "…")


def param_errors(kind: str, params: dict[str, Any], injected: dict[str, Any] | None = None,
                 why: dict[str, str] | None = None, *, model: type[Params] | None) -> list[str]:
    """What is wrong with ``params`` of a job of ``kind`` (empty: nothing). ``injected`` are the values
    the scheduler adds per job (the drawn prompt, the paired visual's id): they must be parameters of
    the kind too (``why``: key -> how the entry sets it, for the message). Each message names the key.
    ``model`` is the kind's model (``generator.registry.model_of``); None (noop, a custom
    ``module:function``): checked as JSON data within PARAM_LIMITS only."""
    try:
        check_json_data(params)
    except ValueError as exc:
        return [str(exc)]
    if model is None:
        return []
    merged = {**params, **(injected or {})}
    try:
        model.model_validate(merged)
    except ValidationError as exc:
        out = []
        fields = ", ".join(sorted(model.model_fields))
        for e in exc.errors():
            loc = ".".join(str(x) for x in e["loc"])
            key = str(e["loc"][0]) if e["loc"] else ""
            via = ""
            if key in (injected or {}) and key not in params:
                via = f" ({(why or {}).get(key, 'set by the scheduler')})"
            if e["type"] == "extra_forbidden":
                out.append(f"params.{loc}: unknown parameter of {kind}{via} (it takes: {fields})")
            elif e["type"] == "missing":
                out.append(f"params.{loc}: required by {kind}")
            else:
                got = "" if isinstance(e.get("input"), dict | list) else f" (got {_show(e.get('input'))})"
                where = f"params.{loc}: " if loc else "params: "
                msg = e["msg"].removeprefix("Value error, ")
                out.append(f"{where}{msg}{via}{got}")
        return out
    return []

