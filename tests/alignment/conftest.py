"""Fixtures for the alignment tests."""

from __future__ import annotations

import pytest

from ._data import related_pair


@pytest.fixture
def pair():
    return related_pair()
