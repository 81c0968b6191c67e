"""Fixtures of the show's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def gl_ctx():
    try:
        from installation.render import headless_context

        ctx = headless_context()
    except Exception as e:  # noqa: BLE001  # pragma: no cover - only on machines without Mesa EGL
        pytest.skip(f"no EGL OpenGL context: {e}")
    yield ctx
    ctx.release()
