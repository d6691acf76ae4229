"""Our wording (``podpipe.spec.messages``). Whole messages are pinned by the golden files; this tests the
"did you mean" every message with a suggestion relies on."""

from __future__ import annotations

import pytest

from podpipe.spec.messages import suggest


@pytest.mark.parametrize("word, candidates, expected", [
    ("zephyr", ["Zephyr", "Puck"], "Zephyr"), ("Puk", ["Zephyr", "Puck"], "Puck"),
    ("gust", ["host", "guest"], "guest"), ("narrator", ["host", "guest"], None), ("host", ["host"], None)])
def test_did_you_mean(word, candidates, expected):
    assert suggest(word, candidates) == expected
