"""Prompt strings: weights, negative prompts, story phases and clear errors for malformed input."""

from __future__ import annotations

import pytest

from gallery.errors import BadInput
from generator.vqgan_clip.prompts import Prompt, parse_story, phase_at


def test_weights_and_phases() -> None:
    phases = parse_story("a red circle:2 | blue:-0.5 ^ a  green star")
    assert phases == [[Prompt("a red circle", 2.0), Prompt("blue", -0.5)], [Prompt("a green star", 1.0)]]
    assert parse_story("x:1e-1")[0][0].weight == pytest.approx(0.1)


@pytest.mark.parametrize(("text", "needle"), [
    ("", "empty"),
    ("   ", "empty"),
    ("a red circle:", "nothing after ':'"),
    ("a red circle:abc", "'abc' is not a number"),
    (":2", "text is empty"),
    ("red||blue", "empty prompt between '|'"),
    ("red ^ ^ blue", "empty story phase"),
    ("blue:-1", "positive weight"),
    ("blue:0", "non-zero"),
    ("blue:1000", "out of range"),
    ("x" * 5000, "at most 1000"),
    ("x" * 400, "at most 300 per text"),
])
def test_malformed_prompts_get_clear_errors(text: str, needle: str) -> None:
    with pytest.raises(BadInput, match=needle.replace("|", r"\|").replace("^", r"\^")):
        parse_story(text)


def test_phase_schedule() -> None:
    assert [phase_at(i, 3, 10) for i in (0, 9, 10, 25, 99)] == [0, 0, 1, 2, 2]
    assert phase_at(50, 1, 0) == 0
