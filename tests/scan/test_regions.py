"""Runs of registered windows and dense regions, each kernel held to its plain
reference (one document, and many laid end to end)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.regions import (
    dense_regions,
    dense_regions_many,
    dense_regions_many_reference,
    dense_regions_reference,
    doc_windows,
    doc_windows_reference,
    runs,
    runs_many,
    runs_many_reference,
    runs_reference,
)

_KINDS = st.lists(st.sampled_from([0, 1, 2]), max_size=300)  # 0: not sampled, 2: a hit
_SIMILARITY = st.sampled_from([0.0, 0.3, 0.5, 1.0])


def _hit_sampled(kinds: list[int]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([k == 2 for k in kinds], bool), np.array([k > 0 for k in kinds], bool)


def _offsets(total: int, cuts: list[int]) -> np.ndarray:
    return np.array([0, *sorted(c % (total + 1) for c in cuts), total], dtype=np.int64)


@given(_KINDS, st.integers(1, 80), _SIMILARITY)
def test_dense_regions_match_the_reference(kinds: list[int], width: int, similarity: float) -> None:
    hit, sampled = _hit_sampled(kinds)
    got = [tuple(r) for r in dense_regions(hit, sampled, width, similarity).tolist()]
    assert got == dense_regions_reference(hit.tolist(), sampled.tolist(), width, similarity)


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 6))
def test_runs_match_the_reference(mask: list[bool], length: int) -> None:
    assert runs(np.array(mask, dtype=bool), length) == runs_reference(mask, length)


def test_the_run_reference_reads_as_its_definition() -> None:
    mask = [True, True, False, True, False, True, True, True]
    assert runs_reference(mask, 2) == [(0, 2), (5, 8)]


@given(
    st.lists(st.booleans(), max_size=120),
    st.lists(st.integers(0, 200), max_size=6),
    st.integers(1, 6),
)
def test_runs_of_many_documents_match_the_reference(
    mask: list[bool], cuts: list[int], length: int
) -> None:
    offsets = _offsets(len(mask), cuts)
    got = [tuple(r) for r in runs_many(np.array(mask, bool), offsets, length).tolist()]
    assert got == runs_many_reference(mask, offsets.tolist(), length)


@given(
    _KINDS, st.lists(st.integers(0, 400), max_size=5), st.data(), st.integers(1, 40), _SIMILARITY
)
def test_dense_regions_of_many_documents_match_the_reference(
    kinds: list[int], cuts: list[int], data: st.DataObject, width: int, similarity: float
) -> None:
    hit, sampled = _hit_sampled(kinds)
    offsets = _offsets(len(kinds), cuts)
    eligible = data.draw(
        st.lists(st.booleans(), min_size=len(offsets) - 1, max_size=len(offsets) - 1)
    )
    got = dense_regions_many(hit, sampled, offsets, np.array(eligible, bool), width, similarity)
    expected = dense_regions_many_reference(
        hit.tolist(), sampled.tolist(), offsets.tolist(), eligible, width, similarity
    )
    assert [tuple(r) for r in got.tolist()] == expected


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=60),
    st.lists(st.integers(0, 80), max_size=8),
    st.integers(1, 6),
)
def test_windows_of_many_documents_match_the_reference(
    hashes: list[int], bounds: list[int], n: int
) -> None:
    pairs = [sorted((bounds[i] % (len(hashes) + 1), bounds[i + 1] % (len(hashes) + 1)))
             for i in range(0, len(bounds) - 1, 2)]  # fmt: skip
    firsts = np.array([a for a, _ in pairs], dtype=np.int64)
    ends = np.array([b for _, b in pairs], dtype=np.int64)
    windows, offsets = doc_windows(np.array(hashes, dtype=np.uint64), firsts, ends, n)
    expected = doc_windows_reference(hashes, firsts.tolist(), ends.tolist(), n)
    assert (windows.tolist(), offsets.tolist()) == expected
