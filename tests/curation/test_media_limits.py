"""Search by image on hostile files (issue 21): `curate search --image` exits 2 and the web upload answers 4xx
with the reason; an allowed image far larger than needed is read reduced and still finds its match."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from gallery.hostile_images import bomb_png, encode
from tests.curation.helpers import draw, fill, png, web_client

ORIGIN = {"origin": "http://testserver"}


def _big(rgb: np.ndarray, side: int = 1600) -> np.ndarray:
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_NEAREST)


def _run(capsys, config_file, *args: str) -> tuple[int, str, str]:
    from gallery.cli import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(config_file), *args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def test_cli_search_by_hostile_image_exits_2(capsys, config_file, settings, tmp_path):
    from catalogue import open_catalogue

    config_file.write_text(config_file.read_text() + "curation:\n  embedding: hist\n")
    with open_catalogue(settings) as cat:
        ids = fill(cat)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png(40000, 40000))
    code, out, err = _run(capsys, config_file, "curate", "search", "--image", str(bomb), "--json")
    assert code == 2 and out == ""
    assert "uploaded image: header claims 1600.0 MP, over the limit of 64.0 MP (media.max_image_pixels)" in err
    cut = tmp_path / "cut.jpg"
    whole = encode(_big(draw("square", "blue", "black"), 256), "JPEG")
    cut.write_bytes(whole[:len(whole) * 2 // 3])
    code, _, err = _run(capsys, config_file, "curate", "search", "--image", str(cut))
    assert code == 2 and "corrupt or truncated" in err and err.strip().splitlines()[-1].startswith("error: ")
    big = tmp_path / "big.jpg"
    big.write_bytes(encode(_big(draw("square", "blue", "black")), "JPEG", quality=95))
    code, out, _ = _run(capsys, config_file, "curate", "search", "--image", str(big), "-k", "1", "--json")
    assert code == 0 and json.loads(out)[0]["id"] == ids[("square", "blue", "black")]
    small = config_file.parent / "small.yaml"
    small.write_text(config_file.read_text() + "media:\n  max_image_pixels: 1000000\n")
    code, _, err = _run(capsys, small, "curate", "search", "--image", str(big))
    assert code == 2 and "header claims 1600x1600 pixels (2.6 MP), over the limit of 1.0 MP" in err


@pytest.fixture
def client(settings, catalogue):
    with web_client(settings, catalogue) as c:
        yield c


def _upload(client: TestClient, data: bytes, name: str = "q.png"):
    tok = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
    return client.post("/search/image", files={"image": (name, data, "image/png")}, data={"csrf": tok},
                       headers=ORIGIN)


def test_web_upload_of_hostile_images_is_refused_with_4xx(client, settings):
    r = _upload(client, bomb_png(40000, 40000))
    assert r.status_code == 413 and "over the limit of 64.0 MP (media.max_image_pixels)" in r.text
    r = _upload(client, png(draw("square", "blue", "black"))[:100])
    assert r.status_code == 400 and "corrupt or truncated" in r.text
    r = _upload(client, b"GIF89a" + b"\xff" * 40, "q.gif")
    assert r.status_code == 400 and "not a readable image" in r.text
    big = encode(_big(draw("square", "blue", "black")), "PNG")
    r = _upload(client, big)
    first = re.search(r'class="card" data-id="(\d+)"', r.text)
    assert r.status_code == 200 and int(first.group(1)) == client.ids[("square", "blue", "black")]
    settings.media.max_image_pixels = 1_000_000  # the budget is read per request, from the settings
    r = _upload(client, big)
    assert r.status_code == 413 and "1600x1600" in r.text
