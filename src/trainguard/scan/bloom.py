"""The registry's filter: which platform fingerprints any tenant has registered.

A scan probes it once per sampled window, whatever the number of tenants, and
looks a window up in the tenants' segments only when the filter says it may be
there. Most windows of most corpora are not registered, so most lookups, and
the per-tenant keyed permutation before each, are never made — and a registry
of many tenants costs a scan little more than a registry of one.

A blocked Bloom filter: each fingerprint sets ``PROBES`` bits of one 64-bit
word, so a probe reads one word (one cache line). The word is chosen from the
fingerprint's top 32 bits by a multiply-shift (any number of words, not only
powers of two); the bits by double hashing (a start and an odd step, both
from a product of the fingerprint), so they are distinct. Built at
``BITS_PER_FINGERPRINT`` = 16, a probe of an unregistered window passes about
0.4% of the time; the registry lets it fill to 11 bits per fingerprint
(~1.4%) before rebuilding it. A pass is only a reason to look up, never a match.
There are no false negatives: every registered fingerprint's bits are set.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .fingerprint import FP_BITS, platform_fingerprints

BITS_PER_FINGERPRINT = 16
PROBES = 6
_SPREAD = np.uint64(0x9E3779B97F4A7C15)


def words_for(fingerprints: int) -> int:
    """Filter size, in 64-bit words, for this many fingerprints (two bytes each)."""
    return max(1, fingerprints * BITS_PER_FINGERPRINT // 64)


@numba.njit(cache=True, inline="always")
def _place(p: Any, words: int) -> tuple[int, Any]:  # pragma: no cover - compiled
    # The top 32 of the 48 bits choose the word (masked: a wider value must not
    # reach past the end).
    top = (p >> np.uint64(FP_BITS - 32)) & np.uint64(0xFFFFFFFF)
    word = (top * np.uint64(words)) >> np.uint64(32)
    h = p * _SPREAD
    at = h >> np.uint64(58)
    step = ((h >> np.uint64(52)) & np.uint64(63)) | np.uint64(1)
    mask = np.uint64(0)
    for _ in range(PROBES):
        mask |= np.uint64(1) << (at & np.uint64(63))
        at += step
    return int(word), mask


@numba.njit(cache=True)
def insert(bits: np.ndarray, fingerprints: np.ndarray) -> None:  # pragma: no cover - compiled
    """Set the bits of each platform fingerprint."""
    words = bits.shape[0]
    for i in range(fingerprints.shape[0]):
        w, mask = _place(fingerprints[i], words)
        bits[w] |= mask


@numba.njit(cache=True)
def may_hold(bits: np.ndarray, fingerprints: np.ndarray) -> np.ndarray:  # pragma: no cover
    """For each fingerprint: whether the filter may hold it (False: certainly not)."""
    out = np.empty(fingerprints.shape[0], dtype=np.bool_)
    words = bits.shape[0]
    for i in range(fingerprints.shape[0]):
        w, mask = _place(fingerprints[i], words)
        out[i] = (bits[w] & mask) == mask
    return out


@numba.njit(cache=True)
def passing(
    bits: np.ndarray, values: np.ndarray, k0: np.uint64, k1: np.uint64
) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Platform fingerprints of ``values`` (unkeyed window hashes) under (k0, k1), and
    which the filter may hold: (their places in ``values``, their fingerprints)."""
    p = platform_fingerprints(values, k0, k1)
    rows = np.empty(values.shape[0], dtype=np.int64)
    words = bits.shape[0]
    count = 0
    for i in range(values.shape[0]):
        w, mask = _place(p[i], words)
        if (bits[w] & mask) == mask:
            rows[count] = i
            p[count] = p[i]
            count += 1
    return rows[:count], p[:count]


# --- plain references: the kernels above, one fingerprint at a time, Python integers ---


def place_reference(fingerprint: int, words: int) -> tuple[int, int]:
    """What ``_place`` computes: the word a fingerprint's bits are in (its top 32 of
    48 bits scaled to the filter) and those :data:`PROBES` bits (a start and an odd
    step from the fingerprint times a spreading constant)."""
    u64 = (1 << 64) - 1
    word = ((((fingerprint >> (FP_BITS - 32)) & 0xFFFFFFFF) * words) & u64) >> 32
    h = (fingerprint * int(_SPREAD)) & u64
    at, step = h >> 58, ((h >> 52) & 63) | 1
    mask = 0
    for probe in range(PROBES):
        mask |= 1 << ((at + probe * step) & 63)
    return word, mask


def insert_reference(bits: list[int], fingerprints: list[int]) -> None:
    """What :func:`insert` does."""
    for p in fingerprints:
        word, mask = place_reference(p, len(bits))
        bits[word] |= mask


def may_hold_reference(bits: list[int], fingerprints: list[int]) -> list[bool]:
    """What :func:`may_hold` computes."""
    return [
        bits[w] & mask == mask for w, mask in (place_reference(p, len(bits)) for p in fingerprints)
    ]


def passing_reference(
    bits: list[int], values: list[int], k0: int, k1: int
) -> tuple[list[int], list[int]]:
    """What :func:`passing` computes: (places, platform fingerprints) of the values
    whose fingerprint the filter may hold."""
    from .fingerprint import platform_fingerprints_reference

    fps = platform_fingerprints_reference(values, k0, k1)
    held = may_hold_reference(bits, fps)
    return [i for i, ok in enumerate(held) if ok], [
        p for p, ok in zip(fps, held, strict=True) if ok
    ]
