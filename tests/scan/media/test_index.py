"""Multi-index hashing answers exactly what a linear scan answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.scan.media.index import MultiIndex, linear_search


def pairs(result: tuple[np.ndarray, np.ndarray, np.ndarray]) -> set[tuple[int, int, int]]:
    return set(zip(*(r.tolist() for r in result), strict=True))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 15), st.integers(1, 3000))
def test_the_index_finds_exactly_the_pairs_a_linear_scan_finds(
    seed: int, radius: int, n: int
) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**64 - 1, size=n, dtype=np.uint64, endpoint=True)
    queries = hashes[rng.integers(0, n, size=20)].copy()
    flips = rng.integers(0, 64, size=(20, 12))
    for q, bits in zip(range(20), flips, strict=True):
        for b in bits[: rng.integers(0, 13)]:
            queries[q] ^= np.uint64(1) << np.uint64(int(b))
    index = MultiIndex(hashes)
    assert pairs(index.search(queries, radius)) == pairs(linear_search(hashes, queries, radius))


def test_an_empty_index_finds_nothing() -> None:
    assert all(
        r.size == 0 for r in MultiIndex(np.empty(0, np.uint64)).search(np.ones(3, np.uint64), 4)
    )


def test_a_radius_beyond_the_pigeonhole_is_refused() -> None:
    with pytest.raises(ValueError, match="radius 16"):
        MultiIndex(np.ones(3, np.uint64)).search(np.ones(1, np.uint64), 16)
