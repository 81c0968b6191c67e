"""The ``cuda`` mark: such a test runs only where torch sees a GPU (it is skipped, with the reason, elsewhere)."""

from __future__ import annotations

import pytest


@pytest.mark.cuda
def test_cuda_mark_runs_on_a_gpu():
    import torch

    assert torch.cuda.is_available()
    x = torch.ones(4, device="cuda")
    assert float((x * 2).sum()) == 8.0
