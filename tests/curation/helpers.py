"""Small drawn artworks with known content for the curation tests."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

from catalogue import ArtworkDraft, MediaDraft

RGB = {"red": (220, 30, 30), "green": (40, 170, 50), "blue": (35, 60, 215), "yellow": (240, 220, 30),
       "white": (245, 245, 245), "black": (20, 20, 20), "grey": (128, 128, 128)}


def draw(shape: str, colour: str, background: str, size: int = 64, offset: int = 0) -> np.ndarray:
    img = np.zeros((size, size, 3), np.uint8)
    img[:] = RGB[background]
    c = RGB[colour]
    m = size // 2 + offset
    r = size // 4
    if shape == "circle":
        cv2.circle(img, (m, m), r, c, -1, cv2.LINE_AA)
    elif shape == "square":
        cv2.rectangle(img, (m - r, m - r), (m + r, m + r), c, -1)
    else:
        raise ValueError(shape)
    return img


def png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def image_draft(rgb: np.ndarray, title: str, recipe: dict[str, Any] | None = None,
                tags: list[str] | None = None, kind: str = "image") -> ArtworkDraft:
    thumb = cv2.resize(rgb, (32, 32), interpolation=cv2.INTER_AREA)
    return ArtworkDraft(kind=kind, title=title, recipe=recipe or {"generator": "test", "title": title},
                        media=[MediaDraft(role="image", mime="image/png", data=png(rgb), width=rgb.shape[1],
                                          height=rgb.shape[0]),
                               MediaDraft(role="thumbnail", mime="image/png", data=png(thumb), width=32, height=32)],
                        tags=tags or [])


def wav_bytes(x: np.ndarray, sr: int = 44100) -> bytes:
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def sound_draft(freq: float, amp: float, title: str) -> ArtworkDraft:
    sr = 44100
    t = np.arange(sr // 2) / sr
    x = amp * np.sin(2 * np.pi * freq * t)
    spec = np.full((32, 64, 3), int(255 * amp), np.uint8)
    return ArtworkDraft(kind="soundscape", title=title, recipe={"generator": "test-tone", "freq": freq, "amp": amp},
                        media=[MediaDraft(role="audio", mime="audio/wav", data=wav_bytes(x, sr), duration=0.5),
                               MediaDraft(role="spectrogram", mime="image/png", data=png(spec), width=64, height=32),
                               MediaDraft(role="thumbnail", mime="image/png", data=png(spec), width=64, height=32)],
                        duration=0.5)


# A small catalogue: (shape, colour, background)
SCENES = [("circle", "red", "white"), ("circle", "red", "black"), ("square", "red", "white"),
          ("circle", "blue", "white"), ("square", "blue", "black"), ("circle", "green", "yellow"),
          ("square", "green", "white"), ("circle", "yellow", "blue"), ("square", "black", "white"),
          ("circle", "white", "black")]


def fill(cat: Any) -> dict[tuple[str, str, str], int]:
    ids = {}
    for sc in SCENES:
        ids[sc] = cat.add(image_draft(draw(*sc), f"{sc[1]} {sc[0]} on {sc[2]}", tags=[sc[0], sc[1]]))
    return ids


@contextmanager
def web_client(settings: Any, catalogue: Any) -> Iterator[Any]:
    """The web app over a filled catalogue, through FastAPI's TestClient (``client.ids``: the works)."""
    from fastapi.testclient import TestClient

    from curation.embed import HistEncoder
    from curation.web.app import create_app

    ids = fill(catalogue)
    app = create_app(settings, catalogue, encoder=HistEncoder(), token=None, extra_hosts=("testserver",))
    with TestClient(app) as c:
        c.ids = ids
        yield c
