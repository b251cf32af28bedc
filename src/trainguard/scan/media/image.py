"""Perceptual hashes of images and video frames, and their keying per tenant.

The hash is a DCT hash in the manner of pHash, over a band chosen for slides
and screens: the 64x64 grey picture's 2-D DCT, the 8x8 coefficients of
frequencies 4-11 in each direction, one bit each — above or below their median.
pHash proper (the 8x8 lowest frequencies of 32x32) sees mostly the template of
a slide — title bar, white page, footer — and put 1% of the pairs of slides
from one template within 4 bits; this band sees where the text lines are and
put 0.02% there (and 0.7% within 8), with the same robustness to re-compression, scaling and
brightness (measured: docs/media.md). Two hashes are the same picture when
their Hamming distance is at most ``DEFAULT_MAX_DISTANCE``.

Keying: a Hamming distance must survive the key, so a hash cannot go through
SipHash like a landmark. Each tenant's hashes are stored *permuted and masked*:
the 64 bits shuffled by a permutation drawn from the tenant's key, then XORed
with a 64-bit mask from the same key. That preserves every distance (so the
registry can be searched) and hides the hash values: without the key a stored
value cannot be compared with the hash of a picture, nor joined with another
tenant's. It does not hide how the tenant's own pictures relate to each other
(their distances are there to see), and it is no cipher: anyone who learns the
hashes of a few dozen registered pictures can solve for the permutation and
mask.
"""

from __future__ import annotations

import numpy as np

from ..fingerprint import key_words, keyed
from .decode import HASH_SIDE

DEFAULT_MAX_DISTANCE = 5
BITS = 64
POINTS_DOMAIN = 1  # keypoint descriptors are keyed apart from picture hashes


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    out: np.ndarray = m.astype(np.float32)
    return out


BAND = slice(4, 12)  # the DCT frequencies kept, in each direction
_DCT = _dct_matrix(HASH_SIDE)[BAND]
_WEIGHTS = (np.uint64(1) << np.arange(64, dtype=np.uint64)).reshape(8, 8)


def dct_hash(frames: np.ndarray) -> np.ndarray:
    """The 64-bit DCT hash of each (n, 64, 64) grey frame, as uint64."""
    if frames.shape[0] == 0:
        return np.empty(0, np.uint64)
    low = np.einsum("ij,njk,lk->nil", _DCT, frames.astype(np.float32), _DCT)
    flat = low.reshape(len(frames), 64)
    bits = flat > np.median(flat, axis=1, keepdims=True)
    out: np.ndarray = (bits.reshape(-1, 8, 8) * _WEIGHTS).sum(axis=(1, 2), dtype=np.uint64)
    return out


def distance(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Hamming distance of uint64 values (elementwise)."""
    return np.bitwise_count(np.bitwise_xor(np.uint64(a), np.uint64(b)))  # type: ignore[no-any-return]


class Keying:
    """A tenant's distance-preserving keying of 64-bit hashes: permute, then mask."""

    def __init__(self, key: bytes, domain: int = 0) -> None:
        k0, k1 = key_words(key)
        seed = np.uint64(0x7068617368 + (domain << 40))
        draws = keyed(np.arange(BITS + 1, dtype=np.uint64) + seed, k0, k1)
        self.permutation = np.argsort(draws[:BITS], kind="stable")  # out bit i <- in bit p[i]
        self.mask = np.uint64(draws[BITS])

    def apply(self, hashes: np.ndarray) -> np.ndarray:
        bits = _bits(hashes)[:, self.permutation]
        return _pack(bits) ^ self.mask

    def invert(self, keyed_hashes: np.ndarray) -> np.ndarray:
        bits = _bits(keyed_hashes ^ self.mask)
        out = np.empty_like(bits)
        out[:, self.permutation] = bits
        return _pack(out)


def _bits(hashes: np.ndarray) -> np.ndarray:
    as_bytes = np.ascontiguousarray(hashes, dtype="<u8").view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1, bitorder="little")


def _pack(bits: np.ndarray) -> np.ndarray:
    packed = np.packbits(bits.astype(np.uint8), axis=1, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").reshape(-1).astype(np.uint64)
