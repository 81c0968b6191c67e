"""Media limits benchmark (issue 21): peak memory of each image path on the largest allowed image and on refused
ones, through the one reader (gallery.media) against the old direct decode (cv2.imread / cv2.imdecode at full
size, as the paths did before).

Each case runs in its own subprocess; the figure is that process's peak RSS (ru_maxrss) and its rise over
the peak after the imports and the encoder / model load (the decode's own cost). Paths:
  show      the decode thread: a still fitted to a 1920x1080 screen (installation.media.load_image)
  project   `generate project`'s target at the model's 64 px (generator.stylegan.project.load_target)
  search    `curate search --image`: decode + the embedding of the default encoder (the shipped tiny CLIP)
  web       POST /search/image through the web app (FastAPI test client), same encoder
Images: the largest allowed (8000x8000 = 64 MP, the default media.max_image_pixels) as PNG and JPEG, a real
20000x20000 black PNG (1.1 MB) and a 77-byte PNG whose header claims 40000x40000.

    nice -n 10 .venv/bin/python bench/media_limits.py [--paths show project search web] [--no-old-huge]

The old decode of the 20000x20000 PNG needs up to about 12 GB: it is skipped when less memory than that is
available (or with --no-old-huge).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCREEN = (1920, 1080)
RESOLUTION = 64
HUGE = "png-20000x20000"
OLD_HUGE_NEEDS_GB = 14


def _rss_mb() -> float:
    """This process's peak RSS so far (VmHWM: unlike ru_maxrss it is not inherited across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- the old direct decodes (what each path did before gallery.media) --------------------------------
def old_show(path: Path):
    import cv2
    import numpy as np

    from installation.media import shrink_to_screen

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a readable image")
    return shrink_to_screen(np.ascontiguousarray(img[:, :, ::-1]), *SCREEN, "contain")


def old_project(path: Path):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("not a readable image")
    h, w = img.shape[:2]
    s = min(h, w)
    img = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    interp = cv2.INTER_AREA if s > RESOLUTION else cv2.INTER_CUBIC
    return cv2.cvtColor(cv2.resize(img, (RESOLUTION, RESOLUTION), interpolation=interp), cv2.COLOR_BGR2RGB)


def old_decode_image(data, what="image", **_):
    import cv2
    import numpy as np

    raw = Path(data).read_bytes() if isinstance(data, Path) else data
    arr = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if arr is None or arr.size == 0:
        raise ValueError(f"{what}: not a readable image")
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


# ---- one case, in a child process ---------------------------------------------------------------------
def child(path_name: str, impl: str, image: Path, data_dir: Path) -> dict:
    from gallery.config import load_settings

    settings = load_settings(None, environ={}, overrides={"data_dir": str(data_dir),
                                                          "catalogue": {"fsync": False}})
    run = None
    if path_name == "show":
        from installation.media import load_image, shrink_to_screen

        def run():
            if impl == "old":
                return old_show(image)
            return shrink_to_screen(load_image(image, SCREEN, "contain", settings.media), *SCREEN, "contain")
    elif path_name == "project":
        import torch  # noqa: F401  (the job has it loaded)

        from generator.stylegan.project import load_target

        def run():
            return old_project(image) if impl == "old" else load_target(image, RESOLUTION,
                                                                         settings.media.max_image_pixels)
    elif path_name == "search":
        from curation import features as F
        from curation.embed import load_encoder
        from curation.search import Searcher

        if impl == "old":
            F.decode_image = old_decode_image
        sr = Searcher(settings, None, load_encoder(settings))
        data = image.read_bytes()

        def run():
            return sr.image_vector(data)
    elif path_name == "web":
        import re

        from fastapi.testclient import TestClient

        from catalogue import open_catalogue
        from curation import features as F
        from curation.embed import load_encoder
        from curation.web.app import create_app

        if impl == "old":
            F.decode_image = old_decode_image
        cat = open_catalogue(settings)
        app = create_app(settings, cat, encoder=load_encoder(settings), token=None, extra_hosts=("testserver",))
        client = TestClient(app).__enter__()
        tok = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
        data = image.read_bytes()

        def run():
            r = client.post("/search/image", files={"image": (image.name, data, "image/png")}, data={"csrf": tok},
                            headers={"origin": "http://testserver"})
            if r.status_code != 200:
                raise RuntimeError(f"HTTP {r.status_code}")
            return r
    assert run is not None
    base = _rss_mb()
    t = time.perf_counter()
    try:
        out = run()
        result = f"ok {tuple(getattr(out, 'shape', ()))}" if hasattr(out, "shape") else "ok"
    except MemoryError:
        result = "MemoryError"
    except Exception as e:  # noqa: BLE001 - the figure is what counts; say how it ended
        code = getattr(e, "exit_code", None)
        result = f"refused ({type(e).__name__}{', exit ' + str(code) if code else ''})"
        if isinstance(e, RuntimeError) and str(e).startswith("HTTP"):
            result = f"refused ({e})"
    return {"seconds": time.perf_counter() - t, "base_mb": base, "peak_mb": _rss_mb(), "result": result}


# ---- the parent: images, cases, table ----------------------------------------------------------------
def make_images(folder: Path) -> dict[str, Path]:
    import numpy as np
    from PIL import Image

    from gallery.hostile_images import bomb_png, write_black_png

    out = {}
    y, x = np.mgrid[0:8000, 0:8000]
    rgb = np.stack([(x // 4) % 256, (y // 4) % 256, ((x + y) // 8) % 256], -1).astype(np.uint8)
    del x, y
    im = Image.fromarray(rgb)
    out["png-8000x8000 (allowed)"] = folder / "allowed.png"
    im.save(out["png-8000x8000 (allowed)"], "PNG", compress_level=1)
    out["jpeg-8000x8000 (allowed)"] = folder / "allowed.jpg"
    im.save(out["jpeg-8000x8000 (allowed)"], "JPEG", quality=90)
    del im, rgb
    out[HUGE] = write_black_png(folder / "huge.png", 20000, 20000)
    out["png-header-40000x40000"] = folder / "bomb.png"
    out["png-header-40000x40000"].write_bytes(bomb_png(40000, 40000))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paths", nargs="+", default=["show", "project", "search", "web"])
    ap.add_argument("--no-old-huge", action="store_true", help="skip the old decode of the 20000x20000 PNG")
    ap.add_argument("--child", nargs=4, metavar=("PATH", "IMPL", "IMAGE", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        p, impl, image, data_dir = args.child
        print(json.dumps(child(p, impl, Path(image), Path(data_dir))))
        return
    import psutil

    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        images = make_images(Path(tmp))
        for name, p in images.items():
            print(f"# {name}: {p.stat().st_size / 1e6:.2f} MB file", flush=True)
        print(f"\n{'path':8} {'image':26} {'impl':4} {'peak RSS MB':>11} {'decode +MB':>10} {'seconds':>8}  result")
        for path_name in args.paths:
            for name, image in images.items():
                for impl in ("old", "new"):
                    if impl == "old" and name == HUGE and (
                            args.no_old_huge or psutil.virtual_memory().available < OLD_HUGE_NEEDS_GB * 2**30):
                        print(f"{path_name:8} {name:26} {impl:4} {'skipped (needs ~12 GB)':>31}", flush=True)
                        continue
                    data_dir = Path(tmp) / f"data-{path_name}-{impl}"
                    data_dir.mkdir(exist_ok=True)
                    res = subprocess.run([sys.executable, __file__, "--child", path_name, impl, str(image),
                                          str(data_dir)], capture_output=True, text=True, env=env, cwd=ROOT)
                    if res.returncode != 0:
                        last = (res.stderr.strip().splitlines() or ["?"])[-1][:80]
                        print(f"{path_name:8} {name:26} {impl:4} {'':>11} {'':>10} {'':>8}  process died "
                              f"(exit {res.returncode}): {last}", flush=True)
                        continue
                    r = json.loads(res.stdout.strip().splitlines()[-1])
                    print(f"{path_name:8} {name:26} {impl:4} {r['peak_mb']:11.0f} {r['peak_mb'] - r['base_mb']:10.0f} "
                          f"{r['seconds']:8.2f}  {r['result']}", flush=True)


if __name__ == "__main__":
    from gallery.machine import print_machine

    print_machine(unless=("--child",))  # the machine beside the tables: CPU, torch kernels, threads, load, GPU
    main()
