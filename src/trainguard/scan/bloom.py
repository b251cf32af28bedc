"""The registry's filter: which platform fingerprints any tenant has registered.

A scan probes it once per sampled window, whatever the number of tenants, and
looks a window up in the tenants' segments only when the filter says it may be
there. Most windows of most corpora are not registered, so most lookups, and
the per-tenant keyed permutation before each, are never made — and a registry
of many tenants costs a scan about what a registry of one does.

A blocked Bloom filter: each fingerprint sets ``PROBES`` bits of one 64-bit
word, so a probe reads one word (one cache line). The word is chosen from the
fingerprint's top 32 bits by a multiply-shift (any number of words, not only
powers of two), the bits from its low 24. At ``BITS_PER_FINGERPRINT`` = 8 a
probe of an unregistered window passes about 3% of the time; a pass is only a
reason to look up, never a match. There are no false negatives: every
registered fingerprint's bits are set.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .fingerprint import platform_fingerprints

BITS_PER_FINGERPRINT = 8
PROBES = 4


def words_for(fingerprints: int) -> int:
    """Filter size, in 64-bit words, for this many fingerprints (one byte each)."""
    return max(1, fingerprints * BITS_PER_FINGERPRINT // 64)


@numba.njit(cache=True, inline="always")
def _place(p: Any, words: int) -> tuple[int, Any]:  # pragma: no cover - compiled
    # Bits 24..55 choose the word (masked: a wider value must not reach past the end).
    word = (((p >> np.uint64(24)) & np.uint64(0xFFFFFFFF)) * np.uint64(words)) >> np.uint64(32)
    one = np.uint64(1)
    mask = one << (p & np.uint64(63))
    mask |= one << ((p >> np.uint64(6)) & np.uint64(63))
    mask |= one << ((p >> np.uint64(12)) & np.uint64(63))
    mask |= one << ((p >> np.uint64(18)) & np.uint64(63))
    return int(word), mask


@numba.njit(cache=True)
def insert(bits: np.ndarray, fingerprints: np.ndarray) -> None:  # pragma: no cover - compiled
    """Set the bits of each 56-bit platform fingerprint."""
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
