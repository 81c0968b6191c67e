"""Test-only job functions (importable as ``schedtestjobs:NAME`` with this folder on PYTHONPATH)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from catalogue import ArtworkDraft, MediaDraft


def boom(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    raise ValueError(f"the job exploded on purpose (seed {params['seed']})")


def sleepy(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    (ctx.workdir / "partial.bin").write_bytes(b"x" * 1000)  # a half-made file that must not survive
    time.sleep(float(params.get("seconds", 60)))
    return [_draft(params, "slept")]


def sigkill_self(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    (ctx.workdir / "partial.bin").write_bytes(b"x" * 1000)
    os.kill(os.getpid(), signal.SIGKILL)
    return []


def hog(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    chunks = [bytearray(64 * 2**20) for _ in range(int(params.get("mb", 4096)) // 64)]
    return [_draft(params, f"held {len(chunks)} chunks")]


def pair_echo(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    return [_draft(params, "paired", kind="soundscape", recipe_extra={"pair_with": params.get("pair_with"),
                                                                       "prompt": params.get("prompt")})]


def _draft(params: dict[str, Any], note: str, kind: str = "image",
           recipe_extra: dict[str, Any] | None = None) -> ArtworkDraft:
    data = f"{note} {params['seed']}".encode()
    return ArtworkDraft(kind=kind, title=note, recipe={"generator": "test", "seed": params["seed"],
                                                       **(recipe_extra or {})},
                        media=[MediaDraft(role="image", mime="text/plain", data=data)])


def kill_server(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    """Kills the fork server this job was forked from (fork-server mode only), then waits to die with it."""
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)
    return [_draft(params, "survived")]


def latent_grey(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    """Stands in for a family's generator of a latent position (curation's variations/between): a grey
    PNG whose level follows the latent's mean."""
    import cv2
    import numpy as np

    z = np.asarray(params.get("latent") or params["keyframes"][len(params["keyframes"]) // 2], np.float32)
    level = int(np.clip(128 + 40 * z.mean(), 0, 255))
    img = np.full((24, 24, 3), level, np.uint8)
    img[8:16, 8:16] = 255 - level
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return [ArtworkDraft(kind="image", title=f"latent {level}",
                         recipe={"job_kind": "schedtestjobs:latent_grey", "latent": z.tolist(), "seed": params["seed"]},
                         media=[MediaDraft(role="image", mime="image/png", data=buf.tobytes(), width=24, height=24)])]


def torch_threads(params: dict[str, Any], ctx: Any) -> list[ArtworkDraft]:
    """Reports the torch threads it runs with (imports torch itself, as a job would)."""
    import torch

    return [_draft(params, "threads", recipe_extra={"threads": torch.get_num_threads()})]
