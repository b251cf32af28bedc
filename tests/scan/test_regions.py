"""Runs of registered windows and dense regions, checked against their plain
definitions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.regions import dense_regions, runs


@given(
    st.lists(st.sampled_from([0, 1, 2]), min_size=0, max_size=300),
    st.integers(1, 80),
    st.sampled_from([0.0, 0.3, 0.5, 1.0]),
)
def test_dense_regions_are_the_runs_of_dense_windows_trimmed_to_hits(
    kinds: list[int], width: int, similarity: float
) -> None:
    sampled = np.array([k > 0 for k in kinds], dtype=bool)  # 0: not sampled, 2: a hit
    hit = np.array([k == 2 for k in kinds], dtype=bool)
    expected = []
    if len(kinds) >= width:
        dense = [
            (s := int(sampled[i : i + width].sum())) >= 4
            and int(hit[i : i + width].sum()) >= similarity * max(s, 1)
            for i in range(len(kinds) - width + 1)
        ]
        mark = np.zeros(len(kinds), dtype=bool)
        for i, d in enumerate(dense):
            mark[i : i + width] |= d
        for a, b in runs(mark, 1):
            inside = np.flatnonzero(hit[a:b])
            if len(inside):
                expected.append([a + int(inside[0]), a + int(inside[-1]) + 1])
    assert dense_regions(hit, sampled, width, similarity).tolist() == expected


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
def test_runs_are_the_maximal_stretches_of_true_long_enough(mask: list[bool], length: int) -> None:
    expected, start = [], None
    for i, on in enumerate([*mask, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= length:
                expected.append((start, i))
            start = None
    assert runs(np.array(mask, dtype=bool), length) == expected
