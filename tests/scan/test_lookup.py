"""Lookups in packed segments are exact, whatever the data, and give back every item
registered for each hit."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.fingerprint import FP_BITS, pack
from trainguard.scan.lookup import (
    _gather,
    bounds,
    bounds_reference,
    gather_reference,
    holders,
    items_of,
    looked_up,
)
from trainguard.scan.registry import Segment


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.lists(st.integers(0, 2**64 - 1), max_size=50),
    st.booleans(),
)
def test_lookup_bounds_equal_a_binary_search(
    values: list[int], queries: list[int], skew: bool
) -> None:
    cut = np.uint64(64 - FP_BITS)
    fp = np.sort(np.array(values + values[:20], dtype=np.uint64) >> cut)  # duplicates too
    if skew:  # not uniform: the search must stay exact, only slower
        fp = np.sort(fp >> np.uint64(32))
    q = np.array(queries, dtype=np.uint64) >> cut
    q = np.concatenate([q, fp[:10]])
    lo, hi = bounds(pack(fp), q)
    assert (lo.tolist(), hi.tolist()) == bounds_reference(fp.tolist(), q.tolist())
    assert lo.tolist() == np.searchsorted(fp, q, side="left").tolist()


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 5)), max_size=60), st.data())
def test_the_items_of_a_lookup_are_every_item_registered_for_each_hit(
    entries: list[tuple[int, int]], data: st.DataObject
) -> None:
    entries.sort()
    fp = pack(np.array([f for f, _ in entries], dtype=np.uint64))
    item = np.array([i for _, i in entries], dtype=np.uint32)
    segment = Segment("s", "t", "ngram", len(entries), fp, item)
    queries = np.array(data.draw(st.lists(st.integers(0, 35), max_size=20)), dtype=np.uint64)
    rows, codes = holders(segment, *bounds(fp, queries))
    expected = [(q, i) for q, v in enumerate(queries.tolist()) for f, i in entries if f == v]
    assert list(zip(rows.tolist(), codes.tolist(), strict=True)) == expected
    # Items read back from a kept lookup, for any subset of the queries, in query order.
    counts, found = looked_up([segment, segment], queries)
    assert counts.tolist() == [2 * sum(f == v for f, _ in entries) for v in queries.tolist()]
    rows_kept = np.array(sorted(data.draw(st.sets(st.integers(0, max(len(queries) - 1, 0))))))
    rows_kept = rows_kept[rows_kept < len(queries)].astype(np.int64)
    wanted = [i for q, i in expected if q in set(rows_kept.tolist())]
    assert sorted(items_of(found, rows_kept).tolist()) == sorted(wanted * 2)


@given(st.lists(st.integers(0, 2**31), max_size=40), st.data())
def test_gather_matches_the_reference(item: list[int], data: st.DataObject) -> None:
    n = data.draw(st.integers(0, 10))
    spans = [
        sorted(data.draw(st.tuples(st.integers(0, len(item)), st.integers(0, len(item)))))
        for _ in range(n)
    ]
    lo, hi = [a for a, _ in spans], [b for _, b in spans]
    rows = data.draw(st.lists(st.integers(0, n - 1), max_size=10)) if n else []
    got = _gather(
        np.array(item, np.uint32),
        np.array(lo, np.int64),
        np.array(hi, np.int64),
        np.array(rows, np.int64),
    )
    assert got.tolist() == gather_reference(item, lo, hi, rows)
