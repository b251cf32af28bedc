"""The audio landmark kernels (trainguard.scan.media.audio), each held to its plain
reference on generated spectra, peaks and postings; no decoder needed."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.media.audio import (
    MAX_DF,
    MAX_DT,
    _block_peaks,
    _pairs,
    _votes,
    block_peaks_reference,
    pairs_reference,
    votes_reference,
)


@given(
    st.integers(1, 12),
    st.integers(1, 30),
    st.data(),
    st.integers(0, 4),
    st.integers(0, 6),
)
def test_block_peaks_match_the_reference(
    rows: int, bins: int, data: st.DataObject, half_t: int, half_f: int
) -> None:
    # Few distinct levels: ties, plateaus and values at the floor are common.
    values = data.draw(st.lists(st.integers(0, 5), min_size=rows * bins, max_size=rows * bins))
    spec = np.array(values, dtype=np.float32).reshape(rows, bins)
    first = data.draw(st.integers(0, rows))
    last = data.draw(st.integers(first, rows))
    floor = np.float32(data.draw(st.sampled_from([-1.0, 0.0, 2.5])))
    t, f = _block_peaks(spec, floor, first, last, half_t, half_f)
    assert list(zip(t.tolist(), f.tolist(), strict=True)) == block_peaks_reference(
        spec, float(floor), first, last, half_t, half_f
    )


@given(
    st.lists(st.tuples(st.integers(0, 3 * MAX_DT), st.integers(0, 511)), max_size=40),
    st.integers(1, 5),
)
def test_pairs_match_the_reference(peaks: list[tuple[int, int]], fanout: int) -> None:
    peaks.sort(key=lambda p: p[0])  # peaks come sorted by frame
    t = [p[0] for p in peaks]
    f = [p[1] for p in peaks]
    hashes, times = _pairs(np.array(t, np.int32), np.array(f, np.int32), fanout)
    got = list(zip(hashes.tolist(), times.tolist(), strict=True))
    assert got == pairs_reference(t, f, fanout)
    assert all(abs(((h >> 6) & 63) - 32) <= MAX_DF and 1 <= h & 63 <= MAX_DT for h, _ in got)


@given(
    st.lists(st.tuples(st.integers(0, 20), st.integers(0, 9), st.integers(0, 500)), max_size=60),
    st.lists(st.tuples(st.integers(0, 25), st.integers(0, 500)), max_size=30),
    st.integers(0, 4),
)
def test_votes_match_the_reference(
    registered: list[tuple[int, int, int]], queries: list[tuple[int, int]], max_postings: int
) -> None:
    registered.sort()  # the registry keeps landmarks sorted
    r_hash, r_item, r_time = (
        (list(c) for c in zip(*registered, strict=True)) if registered else ([], [], [])
    )
    q_hash, q_time = (list(c) for c in zip(*queries, strict=True)) if queries else ([], [])
    items, offsets, frames = _votes(
        np.array(q_hash, np.uint32), np.array(q_time, np.uint32), np.array(r_hash, np.uint32),
        np.array(r_item, np.int64), np.array(r_time, np.uint32), max_postings,
    )  # fmt: skip
    got = list(zip(items.tolist(), offsets.tolist(), frames.tolist(), strict=True))
    assert got == votes_reference(q_hash, q_time, r_hash, r_item, r_time, max_postings)
