"""Fixtures the mix tests share (plain builders are in helpers.py)."""

from __future__ import annotations

import pytest

from tests.mix.helpers import compiled_episode


@pytest.fixture
def episode_of(tmp_path):
    """``episode_of(pieces, fmt="wav", **fields)``: ``helpers.compiled_episode`` in the test's tmp_path."""
    return lambda pieces, fmt="wav", **fields: compiled_episode(tmp_path, pieces, fmt, **fields)
