"""One torch thread for this area's tests: the tiny models gain nothing from more, and on a busy
machine spinning OpenMP threads make each step many times slower."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
