"""Which registered images get a crop fitted (trainguard.scan.media.spots): the
compiled counts and screen are held to their plain references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.scan.media.spots import (
    CAP,
    SPOT,
    items_at_spot,
    items_at_spot_reference,
    screen,
    screen_reference,
)


@given(st.integers(0, 2**32 - 1), st.integers(0, 300), st.integers(1, 6), st.integers(1, 90))
def test_items_at_spot_match_the_reference(seed: int, n: int, queries: int, items: int) -> None:
    rng = np.random.default_rng(seed)
    # Positions on a grid a quarter of SPOT wide: many pairs lie exactly SPOT apart.
    xy = (rng.integers(0, 24, (n, 2)) * (SPOT / 4)).astype(np.float32)
    query = rng.integers(0, queries, n)
    item = rng.integers(0, items, n) * 7  # item codes need not be dense
    assert (
        items_at_spot(query, xy, item).tolist() == items_at_spot_reference(query, xy, item).tolist()
    )


def test_a_count_stops_at_the_cap() -> None:
    n = CAP + 10
    counts = items_at_spot(np.zeros(n, np.int64), np.full((n, 2), 0.5, np.float32), np.arange(n))
    assert counts.tolist() == [CAP] * n


def test_a_keypoint_every_item_holds_at_one_spot_is_counted_for_each() -> None:
    """Scanned keypoint 0 is a title bar's corner: 10 items hold it at (0.1, 0.1).
    Keypoints 1-4 match item 3 alone, each at a spot of its own."""
    query = np.array([0] * 10 + [1, 2, 3, 4])
    item = np.array([*range(10), 3, 3, 3, 3])
    xy = np.array([[0.1, 0.1]] * 10 + [[0.3, 0.5], [0.5, 0.5], [0.7, 0.5], [0.3, 0.7]], np.float32)
    assert items_at_spot(query, xy, item).tolist() == [10] * 10 + [1, 1, 1, 1]


@settings(deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.integers(8, 60), st.data())
def test_the_screen_matches_the_reference(
    seed: int, items: int, pairs_each: int, data: st.DataObject
) -> None:
    """Some items' pairs agree on one crop (a scale and an offset per axis, plus a little
    noise), the others' lie anywhere."""
    rng = np.random.default_rng(seed)
    item = np.repeat(np.arange(items), pairs_each)  # dense item ids, as the matcher passes
    rng.shuffle(item)
    scanned = rng.uniform(0, 1, (item.size, 2)).astype(np.float32)
    scale = rng.uniform(0.5, 1.1, (items, 2))
    offset = rng.uniform(-0.1, 0.3, (items, 2))
    agrees = rng.random(items) < 0.5
    registered = np.where(
        agrees[item, None] & (rng.random((item.size, 1)) < 0.7),
        scanned * scale[item] + offset[item] + rng.normal(0, 0.004, (item.size, 2)),
        rng.uniform(0, 1, (item.size, 2)),
    ).astype(np.float32)
    # A few scanned keypoints, each in many pairs; some registered keypoints on a
    # coarse grid, so that several items share a spot.
    query = rng.integers(0, 6, item.size)
    snap = rng.random(item.size) < 0.3
    registered[snap] = np.round(registered[snap] * 10) / 10
    candidates = sorted(data.draw(st.sets(st.integers(0, items - 1), min_size=1)))
    counts, weighed = screen(query, scanned, registered, item, items, candidates)
    want_counts, want_weighed = screen_reference(
        query, scanned, registered, item, items, candidates
    )
    assert counts.tolist() == want_counts.tolist()
    assert weighed == pytest.approx(want_weighed)


def test_no_pairs_have_no_counts() -> None:
    assert items_at_spot(np.empty(0, np.int64), np.empty((0, 2), np.float32), np.empty(0)).size == 0
