"""Prompt strings as users write them: ``"text:weight|text:-weight"``, story phases with ``^``.

``parse_story("a red circle:2|blue:-0.5 ^ a green star")`` gives two phases; each phase is a list of
:class:`Prompt` (text, weight). A weight is optional (default 1); a negative weight pushes away from
the text. Anything malformed raises :class:`BadInput` with the offending part quoted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from gallery.errors import BadInput

MAX_PROMPT_CHARS = 1000  # the whole string
MAX_TEXT_CHARS = 300  # one text
MAX_PHASES = 64
MAX_PROMPTS_PER_PHASE = 16
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class Prompt:
    text: str
    weight: float = 1.0

    def as_dict(self) -> dict[str, object]:
        return {"text": self.text, "weight": self.weight}


def _show(s: str, n: int = 60) -> str:
    return repr(s if len(s) <= n else s[:n] + "…")


def parse_prompt(part: str) -> Prompt:
    """One ``text`` or ``text:weight``."""
    text, weight = part, 1.0
    if ":" in part:
        head, _, tail = part.rpartition(":")
        if not tail.strip():
            raise BadInput(f"prompt {_show(part)}: nothing after ':' (write text:weight, e.g. 'a red circle:1.5')")
        if not _NUMBER.match(tail):
            raise BadInput(f"prompt {_show(part)}: weight {tail.strip()!r} is not a number "
                           "(write text:weight, e.g. 'a red circle:1.5' or 'blue:-0.5')")
        text, weight = head, float(tail)
    text = " ".join(text.split())
    if not text:
        raise BadInput(f"prompt {_show(part)}: the text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise BadInput(f"prompt {_show(text)}: {len(text)} characters; at most {MAX_TEXT_CHARS} per text")
    if not math.isfinite(weight) or weight == 0:
        raise BadInput(f"prompt {_show(part)}: weight {weight} must be a non-zero finite number")
    if abs(weight) > 100:
        raise BadInput(f"prompt {_show(part)}: weight {weight} is out of range (-100..100)")
    return Prompt(text, weight)


def parse_phase(s: str) -> list[Prompt]:
    parts = s.split("|")
    if any(not p.strip() for p in parts):
        raise BadInput(f"prompt {_show(s)}: an empty prompt between '|' separators")
    if len(parts) > MAX_PROMPTS_PER_PHASE:
        raise BadInput(f"prompt {_show(s)}: {len(parts)} prompts; at most {MAX_PROMPTS_PER_PHASE} per phase")
    prompts = [parse_prompt(p) for p in parts]
    if not any(p.weight > 0 for p in prompts):
        raise BadInput(f"prompt {_show(s)}: needs at least one prompt with a positive weight")
    return prompts


def parse_story(s: str) -> list[list[Prompt]]:
    """Phases of a prompt string (``^`` separates phases; one phase when there is no ``^``)."""
    if not isinstance(s, str):
        raise BadInput(f"prompt must be a string, got {type(s).__name__}")
    if len(s) > MAX_PROMPT_CHARS:
        raise BadInput(f"prompt is {len(s)} characters long; at most {MAX_PROMPT_CHARS}")
    if not s.strip():
        raise BadInput("prompt is empty: give some text, e.g. 'a red circle'")
    phases = s.split("^")
    if len(phases) > MAX_PHASES:
        raise BadInput(f"prompt has {len(phases)} story phases; at most {MAX_PHASES}")
    if any(not p.strip() for p in phases):
        raise BadInput(f"prompt {_show(s)}: an empty story phase between '^' separators")
    return [parse_phase(p) for p in phases]


def phase_at(iteration: int, n_phases: int, every: int) -> int:
    """Story mode: the phase in force at an iteration (switching every ``every`` iterations, then staying)."""
    if every <= 0:
        return 0
    return min(iteration // every, n_phases - 1)
