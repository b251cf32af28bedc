"""Looking fingerprints up in a tenant's segments.

A segment is a sorted array of 48-bit keyed fingerprints, packed in 6 bytes
each, and the item code of each. Keyed fingerprints are uniform, so a lookup
interpolates and needs no index beyond the array. Windows reach a segment
only through the registry's filter (:mod:`.bloom`) and the tenant's
permutation (:func:`.fingerprint.permute`): a :class:`Probe` holds the
windows the filter passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from .._native.compiled import load_u64
from .fingerprint import FP_BITS, FP_BYTES, FP_MASK, PAD, permute
from .registry import Segment


@dataclass
class Probe:
    """The windows of a text that the filter may hold: their places among the windows
    probed, and their platform fingerprints."""

    size: int
    rows: np.ndarray
    platform: np.ndarray


_WINDOW = 8  # half the width of the window a lookup settles in without branches


@numba.njit(cache=True, inline="always")
def _fp_at(packed: Any, i: int) -> Any:  # pragma: no cover - compiled
    """Fingerprint i of a packed segment (see :func:`.fingerprint.pack`)."""
    return load_u64(packed, FP_BYTES * i) & FP_MASK


@numba.njit(cache=True)
def bounds(packed: Any, queries: Any) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """[lo, hi) of each query in a packed segment's sorted fingerprints: interpolation,
    then a short search.

    Keyed fingerprints are uniform over 48 bits, so interpolation with the
    global slope lands within a few places of the answer in two probes —
    no index beyond the array itself. The probes of 32 queries are issued
    side by side, so their memory loads overlap instead of waiting on each
    other. The answer is then almost always within 8 places of the guess: a
    binary search over those 16, written so that it compiles to conditional
    moves (a mispredicted branch costs more than the whole search), settles
    it. When it is not there, a gallop and a bisection make every answer
    exact, whatever the data.
    """
    n = (packed.shape[0] - PAD) // FP_BYTES
    m = queries.shape[0]
    lo_out = np.zeros(m, dtype=np.int64)
    hi_out = np.zeros(m, dtype=np.int64)
    if n == 0:
        return lo_out, hi_out
    scale = n / float(1 << FP_BITS)
    group = 32
    guess = np.zeros(group, dtype=np.int64)
    value = np.zeros(group, dtype=np.float64)
    for base in range(0, m, group):
        count = min(group, m - base)
        for j in range(count):
            value[j] = float(queries[base + j])
            guess[j] = min(int(value[j] * scale), n - 1)
        for _ in range(2):  # a third round costs more than the rare gallop it saves
            for j in range(count):
                g = guess[j] + int((value[j] - float(_fp_at(packed, guess[j]))) * scale)
                guess[j] = min(max(g, 0), n - 1)
        for j in range(count):
            q = queries[base + j]
            a = min(max(guess[j] - _WINDOW, 0), max(n - 2 * _WINDOW, 0))
            b = min(a + 2 * _WINDOW, n) - 1  # the window is fp[a..b]
            if (a == 0 or _fp_at(packed, a - 1) < q) and (b == n - 1 or _fp_at(packed, b) >= q):
                lo = a
                step = _WINDOW
                while step > 0:
                    if lo + step - 1 <= b:
                        lo = lo + step if _fp_at(packed, lo + step - 1) < q else lo
                    step >>= 1
                if lo == b and _fp_at(packed, b) < q:
                    lo = n
            else:
                lo, hi = _gallop(packed, n, q, guess[j])
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if _fp_at(packed, mid) < q:
                        lo = mid + 1
                    else:
                        hi = mid
            end = lo
            while end < n and _fp_at(packed, end) == q:
                end += 1
            lo_out[base + j] = lo
            hi_out[base + j] = end
    return lo_out, hi_out


@numba.njit(cache=True, inline="always")
def _gallop(packed: Any, n: int, q: Any, g: int) -> tuple[int, int]:  # pragma: no cover
    """A range [lo, hi) around position g that holds the first place of q: steps that
    double away from g until they pass it."""
    step = 1
    if _fp_at(packed, g) < q:
        lo = g + 1
        hi = lo + step
        while hi < n and _fp_at(packed, hi) < q:
            lo = hi + 1
            step *= 2
            hi = lo + step
        return lo, min(hi, n)
    hi = g
    lo = hi - step
    while lo > 0 and _fp_at(packed, lo) >= q:
        hi = lo
        step *= 2
        lo = hi - step
    return max(lo, 0), hi


def is_held(segments: list[Segment], queries: np.ndarray) -> np.ndarray:
    """Which queries are in any of the segments (exact comparison of fingerprints)."""
    return looked_up(segments, queries)[0] > 0


Found = list[tuple[Segment, np.ndarray, np.ndarray]]


def held_by(probe: Probe, k0: np.uint64, k1: np.uint64, segments: list[Segment]) -> tuple[
    np.ndarray, Found
]:  # fmt: skip
    """:func:`looked_up` for every window probed, through a tenant's permutation: the
    windows the filter ruled out are held by no item."""
    counts, found = looked_up(segments, permute(probe.platform, k0, k1))
    full = np.zeros(probe.size, dtype=np.int64)
    full[probe.rows] = counts
    spread = []
    for s, lo, hi in found:
        lo_full, hi_full = np.zeros(probe.size, np.int64), np.zeros(probe.size, np.int64)
        lo_full[probe.rows], hi_full[probe.rows] = lo, hi
        spread.append((s, lo_full, hi_full))
    return full, spread


def looked_up(segments: list[Segment], queries: np.ndarray) -> tuple[np.ndarray, Found]:
    """For each query, how many registered items hold it, and each segment's [lo, hi)
    of every query (so the items can be read later without looking up again)."""
    counts = np.zeros(len(queries), dtype=np.int64)
    found = []
    for s in segments:
        lo, hi = bounds(s.fp, queries)
        counts += hi - lo
        found.append((s, lo, hi))
    return counts, found


def items_of(found: Found, rows: np.ndarray) -> np.ndarray:
    """The item codes holding the queries at ``rows`` (one per (query, item) pair)."""
    parts: list[np.ndarray] = [_gather(np.asarray(s.item), lo, hi, rows) for s, lo, hi in found]
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


@numba.njit(cache=True)
def _gather(item: Any, lo: Any, hi: Any, rows: Any) -> Any:  # pragma: no cover - compiled
    """item[lo[r]:hi[r]] for each r in rows, one after another (one call: a rescan asks
    for a handful of rows many times, where array operations cost more in set-up)."""
    total = 0
    for r in rows:
        total += hi[r] - lo[r]
    out = np.empty(total, dtype=np.int64)
    k = 0
    for r in rows:
        for j in range(lo[r], hi[r]):
            out[k] = item[j]
            k += 1
    return out


def holders(segment: Segment, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (query, item) pair of a lookup: for each query i, each item code registered
    in ``segment.item[lo[i]:hi[i]]``, as two parallel arrays."""
    held = hi - lo
    found = np.flatnonzero(held)
    reps = held[found]
    queries = np.repeat(found, reps)
    # The positions lo[i], lo[i] + 1, ... hi[i] - 1 of every found query, in one array.
    at = np.repeat(lo[found] - (np.cumsum(reps) - reps), reps) + np.arange(int(reps.sum()))
    return queries, np.asarray(segment.item)[at].astype(np.int64)


# --- plain references: the kernels above, as their definitions ------------------------


def bounds_reference(fingerprints: list[int], queries: list[int]) -> tuple[list[int], list[int]]:
    """What :func:`bounds` computes on the sorted fingerprints a segment packs: the
    [lo, hi) each query occupies, by binary search."""
    from bisect import bisect_left, bisect_right

    return (
        [bisect_left(fingerprints, q) for q in queries],
        [bisect_right(fingerprints, q) for q in queries],
    )


def gather_reference(item: list[int], lo: list[int], hi: list[int], rows: list[int]) -> list[int]:
    """What ``_gather`` computes: ``item[lo[r]:hi[r]]`` for each r in rows, in turn."""
    return [code for r in rows for code in item[lo[r] : hi[r]]]
