"""One intra-op thread: these tiny networks gain nothing from more, and on a loaded machine
thread synchronisation made each step 7x slower."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
