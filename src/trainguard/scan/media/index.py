"""Near-neighbour search of 64-bit hashes: multi-index hashing (Norouzi et al.).

The 64 bits are cut into four 16-bit substrings. If two hashes differ in at
most ``r`` bits, one of their four substrings differs in at most ``r // 4``
(pigeonhole). So each substring gets a table — the positions of the registered
hashes, grouped by the substring's value (a counting sort) — and a query reads,
in each table, the groups of every value within ``r // 4`` bits of its own
substring (1 + 16 + 120 values for r // 4 = 2), then checks the full distance of
those candidates only. At 10M hashes a group holds ~150: a query checks
thousands of candidates where a linear scan checks ten million
(bench/bench_media.py measures both).
"""

from __future__ import annotations

from itertools import combinations

import numba
import numpy as np

SUBSTRINGS = 4
_SUB_BITS = 16


def _flips(radius: int) -> np.ndarray:
    """Every 16-bit mask of at most ``radius`` set bits."""
    masks = [0]
    for k in range(1, radius + 1):
        masks += [sum(1 << b for b in c) for c in combinations(range(_SUB_BITS), k)]
    return np.asarray(masks, dtype=np.uint16)


@numba.njit(cache=True)
def _popcount(x: np.uint64) -> int:  # pragma: no cover - compiled
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return int((x * np.uint64(0x0101010101010101)) >> np.uint64(56))


@numba.njit(cache=True)
def _search(
    hashes: np.ndarray,
    starts: np.ndarray,
    orders: np.ndarray,
    queries: np.ndarray,
    flips: np.ndarray,
    radius: int,
    sub_radius: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    qs = []
    hs = []
    ds = []
    for qi in range(queries.size):
        q = queries[qi]
        for j in range(4):
            sub_q = (q >> np.uint64(16 * j)) & np.uint64(0xFFFF)
            for m in flips:
                v = int(sub_q ^ np.uint64(m))
                for p in range(starts[j, v], starts[j, v + 1]):
                    h = orders[j, p]
                    x = hashes[h] ^ q
                    d = _popcount(x)
                    if d > radius:
                        continue
                    # Report a pair once: from the first substring close enough.
                    first = True
                    for i in range(j):
                        if _popcount((x >> np.uint64(16 * i)) & np.uint64(0xFFFF)) <= sub_radius:
                            first = False
                            break
                    if first:
                        qs.append(qi)
                        hs.append(h)
                        ds.append(d)
    return (
        np.array(qs, dtype=np.int64),
        np.array(hs, dtype=np.int64),
        np.array(ds, dtype=np.int64),
    )


class MultiIndex:
    """Registered 64-bit hashes, searchable by Hamming distance."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
        n = self.hashes.size
        self.starts = np.zeros((SUBSTRINGS, (1 << _SUB_BITS) + 1), np.int64)
        self.orders = np.empty((SUBSTRINGS, n), np.uint32 if n < 2**32 else np.int64)
        for j in range(SUBSTRINGS):
            sub = ((self.hashes >> np.uint64(_SUB_BITS * j)) & np.uint64(0xFFFF)).astype(np.uint16)
            self.orders[j] = np.argsort(sub, kind="stable")
            self.starts[j, 1:] = np.cumsum(np.bincount(sub, minlength=1 << _SUB_BITS))

    def search(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query index, hash index, distance) of every pair within ``radius`` bits."""
        if radius < 0 or radius > 4 * 3 + 3:
            raise ValueError(f"radius {radius}: must be between 0 and 15")
        q = np.ascontiguousarray(queries, dtype=np.uint64)
        if self.hashes.size == 0 or q.size == 0:
            empty = np.empty(0, np.int64)
            return empty, empty, empty
        sub_radius = radius // SUBSTRINGS
        return _search(
            self.hashes, self.starts, self.orders, q, _flips(sub_radius), radius, sub_radius
        )


def linear_search(
    hashes: np.ndarray, queries: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same answer as :meth:`MultiIndex.search` by checking every hash (the
    reference the index is tested and measured against)."""
    qs, hs, ds = [], [], []
    for i, q in enumerate(np.asarray(queries, dtype=np.uint64)):
        d = np.bitwise_count(hashes ^ q)
        found = np.nonzero(d <= radius)[0]
        qs.append(np.full(found.size, i, np.int64))
        hs.append(found.astype(np.int64))
        ds.append(d[found].astype(np.int64))
    if not qs:
        empty = np.empty(0, np.int64)
        return empty, empty, empty
    return np.concatenate(qs), np.concatenate(hs), np.concatenate(ds)
