"""Runs of registered windows and regions dense with registered samples, in one
document or in many laid end to end (compiled)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numba
import numpy as np

from .fingerprint import window_hashes


@numba.njit(cache=True)
def dense_regions(
    hit: Any, sampled: Any, width: int, similarity: float
) -> Any:  # pragma: no cover - compiled
    """Regions where registered samples are dense: [a, b) of each, trimmed to its first
    and last hit.

    A run of ``width`` windows is dense when it holds at least 4 samples and
    ``similarity`` of them are hits; overlapping dense runs make one region.
    """
    n = hit.shape[0]
    out = np.empty((n // 2 + 1, 2), dtype=np.int64)  # regions are apart: at most n/2
    count = 0
    if n < width:
        return out[:0]
    hits_in = samples_in = 0
    for k in range(width - 1):
        hits_in += hit[k]
        samples_in += sampled[k]
    start = -1  # the region being built, or -1
    end = 0  # its windows so far: [start, end)
    for s in range(n - width + 1):
        hits_in += hit[s + width - 1]
        samples_in += sampled[s + width - 1]
        if samples_in >= 4 and hits_in >= similarity * max(samples_in, 1):
            if start >= 0 and s > end:  # a gap: the region before is complete
                count = _trimmed(hit, start, end, out, count)
                start = -1
            if start < 0:
                start = s
            end = s + width
        hits_in -= hit[s]
        samples_in -= sampled[s]
    if start >= 0:
        count = _trimmed(hit, start, end, out, count)
    return out[:count]


@numba.njit(cache=True, inline="always")
def _trimmed(hit: Any, a: int, b: int, out: Any, count: int) -> int:  # pragma: no cover
    """Add region [a, b) trimmed to its first and last hit (none: no region)."""
    while a < b and not hit[a]:
        a += 1
    while b > a and not hit[b - 1]:
        b -= 1
    if a == b:
        return count
    out[count, 0] = a
    out[count, 1] = b
    return count + 1


@numba.njit(cache=True)
def run_bounds(mask: Any, min_length: int) -> Any:  # pragma: no cover - compiled
    out = np.empty((mask.shape[0] // 2 + 1, 2), dtype=np.int64)
    count = 0
    start = -1
    for i in range(mask.shape[0] + 1):
        on = i < mask.shape[0] and mask[i]
        if on and start < 0:
            start = i
        elif not on and start >= 0:
            if i - start >= min_length:
                out[count, 0] = start
                out[count, 1] = i
                count += 1
            start = -1
    return out[:count]


def runs(mask: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    """[start, end) of every run of True of at least min_length."""
    return [(a, b) for a, b in run_bounds(mask, min_length).tolist()]


# --- many documents at once: windows laid end to end, document j's at
# [offsets[j], offsets[j + 1]); nothing found runs across two documents.


@numba.njit(cache=True)
def doc_windows(
    hashes: Any, firsts: Any, ends: Any, n: int
) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """The windows of n tokens of each document (tokens [firsts[j], ends[j]) of
    ``hashes``), end to end, and where each document's begin."""
    docs = firsts.shape[0]
    offsets = np.zeros(docs + 1, dtype=np.int64)
    for j in range(docs):
        offsets[j + 1] = offsets[j] + max(ends[j] - firsts[j] - n + 1, 0)
    out = np.empty(offsets[docs], dtype=np.uint64)
    for j in range(docs):
        if offsets[j + 1] > offsets[j]:
            out[offsets[j] : offsets[j + 1]] = window_hashes(hashes[firsts[j] : ends[j]], n)
    return out, offsets


@numba.njit(cache=True)
def runs_many(mask: Any, offsets: Any, min_length: int) -> Any:  # pragma: no cover
    """(document, start, end) of every run of True of at least min_length, per document."""
    out = np.empty((mask.shape[0] // 2 + offsets.shape[0], 3), dtype=np.int64)
    count = 0
    for j in range(offsets.shape[0] - 1):
        runs = run_bounds(mask[offsets[j] : offsets[j + 1]], min_length)
        for r in range(runs.shape[0]):
            out[count, 0] = j
            out[count, 1] = offsets[j] + runs[r, 0]
            out[count, 2] = offsets[j] + runs[r, 1]
            count += 1
    return out[:count]


@numba.njit(cache=True)
def dense_regions_many(
    hit: Any, sampled: Any, offsets: Any, eligible: Any, width: int, similarity: float
) -> Any:  # pragma: no cover - compiled
    """(document, start, end) of the dense regions of each eligible document."""
    out = np.empty((hit.shape[0] // 2 + offsets.shape[0], 3), dtype=np.int64)
    count = 0
    for j in range(offsets.shape[0] - 1):
        if not eligible[j]:
            continue
        a, b = offsets[j], offsets[j + 1]
        regions = dense_regions(hit[a:b], sampled[a:b], width, similarity)
        for r in range(regions.shape[0]):
            out[count, 0] = j
            out[count, 1] = a + regions[r, 0]
            out[count, 2] = a + regions[r, 1]
            count += 1
    return out[:count]


# --- plain references: what each kernel above computes, written to be read ----------


def runs_reference(mask: list[bool], min_length: int) -> list[tuple[int, int]]:
    """What :func:`run_bounds` computes: [start, end) of each maximal run of True of
    at least ``min_length``."""
    found, start = [], None
    for i, on in enumerate([*mask, False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start >= min_length:
                found.append((start, i))
            start = None
    return found


def dense_regions_reference(
    hit: list[bool], sampled: list[bool], width: int, similarity: float
) -> list[tuple[int, int]]:
    """What :func:`dense_regions` computes: mark every window of ``width`` positions
    with at least 4 samples of which ``similarity`` are hits, join the marks into
    runs, and trim each run to its first and last hit."""
    n = len(hit)
    mark = [False] * n
    for i in range(n - width + 1):
        samples = sum(sampled[i : i + width])
        if samples >= 4 and sum(hit[i : i + width]) >= similarity * max(samples, 1):
            mark[i : i + width] = [True] * width
    regions = []
    for a, b in runs_reference(mark, 1):
        inside = [k for k in range(a, b) if hit[k]]
        if inside:
            regions.append((inside[0], inside[-1] + 1))
    return regions


def doc_windows_reference(
    hashes: list[int], firsts: list[int], ends: list[int], n: int
) -> tuple[list[int], list[int]]:
    """What :func:`doc_windows` computes: each document's windows in turn, and where
    each document's start."""
    from .fingerprint import window_hashes_reference

    windows, offsets = [], [0]
    for a, b in zip(firsts, ends, strict=True):
        windows += window_hashes_reference(hashes[a:b], n)
        offsets.append(len(windows))
    return windows, offsets


def runs_many_reference(
    mask: list[bool], offsets: list[int], min_length: int
) -> list[tuple[int, int, int]]:
    """What :func:`runs_many` computes: each document's runs on its own."""
    return [
        (j, a + start, a + end)
        for j, (a, b) in enumerate(pairwise(offsets))
        for start, end in runs_reference(mask[a:b], min_length)
    ]


def dense_regions_many_reference(
    hit: list[bool],
    sampled: list[bool],
    offsets: list[int],
    eligible: list[bool],
    width: int,
    similarity: float,
) -> list[tuple[int, int, int]]:
    """What :func:`dense_regions_many` computes: each eligible document's regions."""
    return [
        (j, a + start, a + end)
        for j, (a, b) in enumerate(pairwise(offsets))
        if eligible[j]
        for start, end in dense_regions_reference(hit[a:b], sampled[a:b], width, similarity)
    ]
