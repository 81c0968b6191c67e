"""Mesa's llvmpipe and Triton (torch) both bring an LLVM: torch after a GL context must not crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.gl
def test_torch_import_after_a_gl_context_does_not_crash():
    code = ("from installation.render import headless_context\n"
            "ctx = headless_context()\n"
            "fb = ctx.simple_framebuffer((8, 8)); fb.use(); fb.clear(0, 1, 0, 1)\n"
            "import torch, torchvision\n"
            "assert fb.read()[:3] == bytes([0, 255, 0])\n"
            "print(float(torch.ones(3).sum()))\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/bin:/bin", "SDL_VIDEODRIVER": "offscreen", "HOME": "/tmp"})
    assert r.returncode == 0, f"exit {r.returncode}: {r.stderr[-2000:]}"
    assert r.stdout.strip() == "3.0"
