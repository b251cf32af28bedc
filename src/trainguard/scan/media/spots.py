"""Which registered images are worth a crop fit: how much a keypoint pair says about
*which* image is seen, and how much the pairs that agree on one crop weigh.

A scanned image's keypoints are looked up among every registered keypoint of a
tenant (:mod:`.crops`). A keypoint of a template — a title bar's corner, a logo
box, a bullet — matches the same keypoint of every registered slide of that
template, at the same place in each. Like a stop word, it says nothing about
which slide is seen, and it made every slide of the template a candidate for a
crop fit and a centre hash (the cost of the crop search).

So each pair (scanned keypoint, registered keypoint) weighs 1 / the number of
registered items whose keypoints that scanned keypoint matches within ``SPOT``
of the same place (as shares of the registered picture's width and height): a
word at a place of its own counts 1, a title bar's corner shared by 100 slides
0.01. The weight is computed from the scanned image's own pairs; nothing more is
stored.

Weighing the pairs alone does not tell the right slide from the others: the
same words recur on every slide of a deck, each at a place of its own. What
tells them apart is that the right slide's pairs agree on one crop. So
:func:`screen` samples each item's crop hypotheses exactly as
:func:`.crops.fit_crop` does (every item at once, compiled) and keeps an item
only when the pairs that agree with its best hypothesis weigh ``MIN_WEIGHT``:
a wrong slide of the template agrees on the template's corners, which weigh
next to nothing. Only the items kept are fitted and their centres hashed. The
weights are counted for those agreeing pairs only (a scanned slide has some
35,000 pairs with 100 registered slides of its template; a few thousand agree).
"""

from __future__ import annotations

import numba
import numpy as np

from . import crops

SPOT = 0.02  # of the registered picture's width and height
MIN_WEIGHT = 4.0  # measured: docs/media.md (5 lost a crop of 40, 4 none)
# Beyond this many items at one spot a pair weighs 1/CAP: the count stops there, so
# a template shared by a huge registry costs no more than one shared by CAP items.
CAP = 64


def items_at_spot(query: np.ndarray, xy: np.ndarray, item: np.ndarray) -> np.ndarray:
    """For each pair (scanned keypoint ``query``, registered keypoint at ``xy`` of
    ``item``): the number of distinct items among the pairs of the same scanned
    keypoint whose registered keypoints lie within SPOT of it on both axes (itself
    included; at most CAP)."""
    codes, dense = np.unique(item, return_inverse=True)
    pairs = _Pairs(query, xy, dense.reshape(-1), codes.size)
    rank, query_s, x, y, item_s = pairs.spot_args()
    return _items_at_spot(rank, query_s, x, y, item_s, pairs.items, SPOT, CAP)


class _Pairs:
    """Keypoint pairs as the kernels read them: by scanned keypoint, then by the
    registered keypoint's x (to find the pairs at one spot); items as dense ids."""

    def __init__(self, query: np.ndarray, xy: np.ndarray, item: np.ndarray, items: int) -> None:
        self.items = items
        self.item = np.ascontiguousarray(item, np.int64)
        self.x = np.ascontiguousarray(xy[:, 0], np.float32)
        self.y = np.ascontiguousarray(xy[:, 1], np.float32)
        self.query = np.ascontiguousarray(query, np.int64)
        self.by_spot = _by_query_then_x(self.query, self.x)
        self.rank = np.empty(len(query), np.int64)  # where each pair lies in by_spot
        self.rank[self.by_spot] = np.arange(len(query))

    def spot_args(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Each pair's place in the spot order, then query, x, y and item in it."""
        o = self.by_spot
        return self.rank, self.query[o], self.x[o], self.y[o], self.item[o]


@numba.njit(cache=True)
def _by_query_then_x(query: np.ndarray, x: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The order of the pairs by query, then by x (np.lexsort((x, query)) but for ties,
    which the counts do not depend on): a counting sort, then each run sorted."""
    n = query.size
    if n == 0:
        return np.empty(0, np.int64)
    low = query.min()
    starts = np.zeros(query.max() - low + 2, np.int64)
    for i in range(n):
        starts[query[i] - low + 1] += 1
    starts = np.cumsum(starts)
    fill = starts.copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        k = query[i] - low
        order[fill[k]] = i
        fill[k] += 1
    for k in range(starts.size - 1):
        run = order[starts[k] : starts[k + 1]]
        order[starts[k] : starts[k + 1]] = run[np.argsort(x[run])]
    return order


@numba.njit(cache=True)
def _count_at(
    i: int,
    query: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    item: np.ndarray,
    seen: np.ndarray,
    stamp: int,
    spot: float,
    cap: int,
) -> int:  # pragma: no cover - compiled
    """The distinct items at pair i's spot; the arrays sorted by (query, x), so those
    pairs are a run around i. ``seen[item] == stamp`` marks an item counted."""
    count = 0
    j = i
    while j >= 0 and query[j] == query[i] and x[i] - x[j] <= spot and count < cap:
        if abs(y[j] - y[i]) <= spot and seen[item[j]] != stamp:
            seen[item[j]] = stamp
            count += 1
        j -= 1
    j = i + 1
    while j < query.size and query[j] == query[i] and x[j] - x[i] <= spot and count < cap:
        if abs(y[j] - y[i]) <= spot and seen[item[j]] != stamp:
            seen[item[j]] = stamp
            count += 1
        j += 1
    return count


@numba.njit(cache=True)
def _items_at_spot(
    rank: np.ndarray,
    query: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    item: np.ndarray,
    items: int,
    spot: float,
    cap: int,
) -> np.ndarray:  # pragma: no cover - compiled
    out = np.zeros(rank.size, np.int64)
    seen = np.full(items, -1, np.int64)
    for p in range(rank.size):
        out[p] = _count_at(rank[p], query, x, y, item, seen, p, spot, cap)
    return out


def items_at_spot_reference(query: np.ndarray, xy: np.ndarray, item: np.ndarray) -> np.ndarray:
    """What :func:`items_at_spot` computes, pair by pair."""
    x, y = xy[:, 0].astype(np.float32), xy[:, 1].astype(np.float32)
    out = np.zeros(len(query), np.int64)
    for i in range(len(query)):
        near = (query == query[i]) & (np.abs(x - x[i]) <= SPOT) & (np.abs(y - y[i]) <= SPOT)
        out[i] = min(CAP, len(set(item[near].tolist())))
    return out


def screen(
    query: np.ndarray, scanned_xy: np.ndarray, registered_xy: np.ndarray, item: np.ndarray,
    items: int, candidates: list[int],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """For each of the ``candidates`` (dense item ids, below ``items``): how many of its
    pairs agree with the crop hypothesis most of them agree with (as
    :func:`.crops.best_inliers` picks it), and what those pairs weigh, each
    1 / :func:`items_at_spot`."""
    pairs = _Pairs(query, registered_xy, item, items)
    order = np.argsort(pairs.item, kind="stable")  # each item's pairs in their own order
    sorted_items = pairs.item[order]
    starts = np.searchsorted(sorted_items, candidates, "left")
    ends = np.searchsorted(sorted_items, candidates, "right")
    hyp = [crops.hypotheses(int(e - s)) for s, e in zip(starts, ends, strict=True)]
    a = np.stack([h[0] for h in hyp]).astype(np.int64)
    b = np.stack([h[1] for h in hyp]).astype(np.int64)
    f32 = np.float32
    rank, query_s, x, y, item_s = pairs.spot_args()
    return _screen(
        order, np.ascontiguousarray(scanned_xy, np.float32),
        np.ascontiguousarray(registered_xy, np.float32), starts.astype(np.int64),
        ends.astype(np.int64), a, b, f32(crops.INLIER_TOLERANCE), f32(crops.MIN_SPREAD),
        f32(crops.MIN_SCALE), f32(crops.MAX_SCALE), rank, query_s, x, y, item_s, items,
        SPOT, CAP,
    )  # fmt: skip


@numba.njit(cache=True)
def _screen(
    order: np.ndarray,
    q: np.ndarray,
    r: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    tol: np.float32,
    spread: np.float32,
    low: np.float32,
    high: np.float32,
    rank: np.ndarray,
    query: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    item: np.ndarray,
    items: int,
    spot: float,
    cap: int,
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    # float32 throughout, in the order numpy computes it in crops.best_inliers, so
    # the same hypothesis wins.
    m = starts.size
    counts = np.zeros(m, np.int64)
    weighed = np.zeros(m, np.float64)
    seen = np.full(items, -1, np.int64)
    stamp = 0
    for g in range(m):
        s = starts[g]
        n = ends[g] - s
        best = -1
        bsx = bsy = box = boy = np.float32(0.0)
        for h in range(a.shape[1]):
            i = order[s + a[g, h]]
            j = order[s + b[g, h]]
            dqx = q[i, 0] - q[j, 0]
            dqy = q[i, 1] - q[j, 1]
            if not (abs(dqx) > spread and abs(dqy) > spread):
                continue
            sx = (r[i, 0] - r[j, 0]) / dqx
            sy = (r[i, 1] - r[j, 1]) / dqy
            if not (sx >= low and sx <= high and sy >= low and sy <= high):
                continue
            ox = r[i, 0] - sx * q[i, 0]
            oy = r[i, 1] - sy * q[i, 1]
            count = 0
            for k in range(s, s + n):
                p = order[k]
                if max(abs(q[p, 0] * sx + ox - r[p, 0]), abs(q[p, 1] * sy + oy - r[p, 1])) < tol:
                    count += 1
            if count > best:
                best, bsx, bsy, box, boy = count, sx, sy, ox, oy
        if best <= 0:
            continue
        counts[g] = best
        w = 0.0
        for k in range(s, s + n):
            p = order[k]
            if max(abs(q[p, 0] * bsx + box - r[p, 0]), abs(q[p, 1] * bsy + boy - r[p, 1])) < tol:
                w += 1.0 / _count_at(rank[p], query, x, y, item, seen, stamp, spot, cap)
                stamp += 1
        weighed[g] = w
    return counts, weighed


def screen_reference(
    query: np.ndarray, scanned_xy: np.ndarray, registered_xy: np.ndarray, item: np.ndarray,
    items: int, candidates: list[int],
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """What :func:`screen` computes, item by item with :func:`.crops.best_inliers`."""
    weight = 1.0 / items_at_spot_reference(query, registered_xy, item)
    counts, weighed = [], []
    for code in candidates:
        sel = item == code
        inliers = crops.best_inliers(scanned_xy[sel], registered_xy[sel])
        if inliers is None:
            counts.append(0)
            weighed.append(0.0)
        else:
            counts.append(int(inliers.sum()))
            weighed.append(float(weight[sel][inliers].sum()))
    return np.array(counts, np.int64), np.array(weighed, np.float64)
