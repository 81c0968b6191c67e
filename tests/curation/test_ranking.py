"""Text search with the shipped tiny CLIP on a catalogue of generated shapes with known captions:
"red circle" must rank the red circles first. The CLIP module (loaded by curation.embed) and its tiny
weights are part of the repository: if either is missing, this fails (it never skips)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from generator.datasets import shapes
from tests.curation.helpers import image_draft


def _catalogue(cat):
    """Single-shape scenes with captions; every (shape, colour) pair on two backgrounds, two sizes."""
    S = shapes
    kinds = ["circle", "square", "triangle", "star"]
    colours = ["red", "blue", "green", "yellow"]
    truth = {}
    for i, (shape, colour, size, bg) in enumerate(itertools.product(kinds, colours, ["small", "large"],
                                                                    ["white", "grey"])):
        sc = S.Scene(groups=(S.Group(shape=shape, colour=colour, size=size, count=1),), background=bg,
                     position="centre", layout_seed=i)
        caption = sc.caption()
        aid = cat.add(image_draft(S.render(sc, 64), caption, recipe={"generator": "shapes", "caption": caption}))
        truth[aid] = (shape, colour)
    return truth


@pytest.fixture
def ranked(settings, catalogue):
    """Text search over the shapes catalogue: query -> (ranked ids, truth)."""
    from curation.embed import load_encoder
    from curation.indexer import index_catalogue
    from curation.search import Searcher

    enc = load_encoder(settings, "clip")
    truth = _catalogue(catalogue)
    rep = index_catalogue(catalogue, enc)
    assert not rep.skipped and len(rep.indexed) == len(truth)
    sr = Searcher(settings, catalogue, enc)
    return (lambda text: [h.id for h in sr.search(text=text, k=len(truth))]), truth


def test_text_query_ranks_its_colour_and_shape_above_the_rest(ranked):
    search, truth = ranked
    order = search("a red circle")
    rank = {a: i for i, a in enumerate(order)}
    reds = [a for a, (_, c) in truth.items() if c == "red"]
    assert {truth[a][1] for a in order[:len(reds)]} == {"red"}, [truth[a] for a in order[:len(reds)]]
    # red circles before circles of other colours, and before everything sharing neither word
    red_circles = [rank[a] for a, t in truth.items() if t == ("circle", "red")]
    other_circles = [rank[a] for a, (s, c) in truth.items() if s == "circle" and c != "red"]
    neither = [rank[a] for a, (s, c) in truth.items() if s != "circle" and c != "red"]
    assert max(red_circles) < min(other_circles) and np.mean(red_circles) < np.mean(neither)
    blue = search("a blue square")
    assert {truth[a][1] for a in blue[:8]} == {"blue"}


def test_red_circle_ranks_red_circles_first(ranked):
    search, truth = ranked
    order = search("a red circle")
    n = sum(1 for t in truth.values() if t == ("circle", "red"))
    assert truth[order[0]] == ("circle", "red")
    assert sum(truth[a] == ("circle", "red") for a in order[:n]) / n >= 0.75
