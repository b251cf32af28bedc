"""Keyed fingerprints of word n-grams.

Each token is hashed by the normalization (unkeyed); each window of ``n``
token hashes is folded into a 64-bit polynomial rolling hash. Two keyed steps
follow:

- the *platform* fingerprint: SipHash-2-4 of the rolling hash under the
  registry's platform key, cut to 48 bits. It is never stored; it is what a
  scan computes once per window, whatever the number of tenants, to probe the
  registry's filter (:mod:`.bloom`);
- the *tenant* fingerprint: the platform fingerprint through a keyed
  permutation of 48-bit values (a six-round Feistel network whose round
  function is SipHash-2-4 under the tenant's key). This is what a tenant's
  segments store. Without the tenant's key it cannot be computed, so the
  registry does not let anyone test whether a text is in a tenant's content,
  and two tenants' fingerprints cannot be joined; with the key it can be
  inverted, so the filter can be rebuilt from the segments (after a removal)
  without the text.

The loops are compiled with numba.
"""

from __future__ import annotations

import secrets

import numba
import numpy as np

from .normalize import Tokens

DEFAULT_N = 13
_BASE = np.uint64(0x100000001B3)  # odd multiplier for the rolling hash

KEY_BYTES = 16


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


@numba.njit(cache=True, inline="always")
def _rotl(x: np.uint64, b: int) -> np.uint64:
    return (x << np.uint64(b)) | (x >> np.uint64(64 - b))


@numba.njit(cache=True, inline="always")
def _sipround(
    v0: np.uint64, v1: np.uint64, v2: np.uint64, v3: np.uint64
) -> tuple[np.uint64, np.uint64, np.uint64, np.uint64]:
    v0 += v1
    v1 = _rotl(v1, 13)
    v1 ^= v0
    v0 = _rotl(v0, 32)
    v2 += v3
    v3 = _rotl(v3, 16)
    v3 ^= v2
    v0 += v3
    v3 = _rotl(v3, 21)
    v3 ^= v0
    v2 += v1
    v1 = _rotl(v1, 17)
    v1 ^= v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


@numba.njit(cache=True, inline="always")
def _siphash24(k0: np.uint64, k1: np.uint64, m: np.uint64) -> np.uint64:
    """SipHash-2-4 of one 8-byte little-endian word (the message length is 8).

    Written out, no loops and inlined into its callers: then LLVM runs :func:`keyed`'s
    independent hashes side by side in vector registers (2.5x faster than one call
    per value, same outputs)."""
    v0 = k0 ^ np.uint64(0x736F6D6570736575)
    v1 = k1 ^ np.uint64(0x646F72616E646F6D)
    v2 = k0 ^ np.uint64(0x6C7967656E657261)
    v3 = k1 ^ np.uint64(0x7465646279746573)
    # Two blocks: the word, then the length byte (8) in the top byte.
    v3 ^= m
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= m
    length = np.uint64(8) << np.uint64(56)
    v3 ^= length
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= length
    v2 ^= np.uint64(0xFF)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return v0 ^ v1 ^ v2 ^ v3


@numba.njit(cache=True)
def window_hashes(hashes: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - compiled
    """Unkeyed rolling hash of every window of ``n`` token hashes; entry i covers [i, i+n)."""
    count = hashes.shape[0] - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.empty(count, dtype=np.uint64)
    top = np.uint64(1)
    for _ in range(n - 1):
        top *= _BASE
    rolling = np.uint64(0)
    for i in range(n):
        rolling = rolling * _BASE + hashes[i]
    out[0] = rolling
    for i in range(1, count):
        rolling = (rolling - hashes[i - 1] * top) * _BASE + hashes[i + n - 1]
        out[i] = rolling
    return out


@numba.njit(cache=True)
def keyed(values: np.ndarray, k0: np.uint64, k1: np.uint64) -> np.ndarray:  # pragma: no cover
    """SipHash-2-4 of each value under the key (k0, k1)."""
    out = np.empty(values.shape[0], dtype=np.uint64)
    for i in range(values.shape[0]):
        out[i] = _siphash24(k0, k1, values[i])
    return out


FP_BITS = 48
FP_BYTES = FP_BITS // 8  # as a segment stores each
FP_MASK = np.uint64((1 << FP_BITS) - 1)
_HALF_BITS = FP_BITS // 2
_HALF_MASK = np.uint64((1 << _HALF_BITS) - 1)
FEISTEL_ROUNDS = 6  # written out in permute() and unpermute()


@numba.njit(cache=True)
def platform_fingerprints(
    values: np.ndarray, k0: np.uint64, k1: np.uint64
) -> np.ndarray:  # pragma: no cover - compiled
    """SipHash-2-4 of each value under the platform key, cut to 48 bits."""
    out = np.empty(values.shape[0], dtype=np.uint64)
    for i in range(values.shape[0]):
        out[i] = _siphash24(k0, k1, values[i]) >> np.uint64(64 - FP_BITS)
    return out


@numba.njit(cache=True, inline="always")
def _round(k0: np.uint64, k1: np.uint64, r: int, half: np.uint64) -> np.uint64:
    # The round number in the high word: each round is its own function of the key.
    return _siphash24(k0, k1, (np.uint64(r) << np.uint64(32)) | half) & _HALF_MASK


@numba.njit(cache=True)
def permute(values: np.ndarray, k0: np.uint64, k1: np.uint64) -> np.ndarray:  # pragma: no cover
    """The tenant fingerprint of each 48-bit platform fingerprint: a keyed permutation
    (balanced Feistel network, 24-bit halves, :data:`FEISTEL_ROUNDS` rounds).

    The rounds are written out, each half updated in place in turn (the same
    network as swapping the halves every round, six being even), so that LLVM
    runs the values side by side in vector registers: twice as fast as a loop
    over the rounds."""
    out = np.empty(values.shape[0], dtype=np.uint64)
    for i in range(values.shape[0]):
        left = values[i] >> np.uint64(_HALF_BITS)
        right = values[i] & _HALF_MASK
        left ^= _round(k0, k1, 0, right)
        right ^= _round(k0, k1, 1, left)
        left ^= _round(k0, k1, 2, right)
        right ^= _round(k0, k1, 3, left)
        left ^= _round(k0, k1, 4, right)
        right ^= _round(k0, k1, 5, left)
        out[i] = (left << np.uint64(_HALF_BITS)) | right
    return out


@numba.njit(cache=True)
def unpermute(values: np.ndarray, k0: np.uint64, k1: np.uint64) -> np.ndarray:  # pragma: no cover
    """The inverse of :func:`permute` under the same key: the rounds in reverse."""
    out = np.empty(values.shape[0], dtype=np.uint64)
    for i in range(values.shape[0]):
        left = values[i] >> np.uint64(_HALF_BITS)
        right = values[i] & _HALF_MASK
        right ^= _round(k0, k1, 5, left)
        left ^= _round(k0, k1, 4, right)
        right ^= _round(k0, k1, 3, left)
        left ^= _round(k0, k1, 2, right)
        right ^= _round(k0, k1, 1, left)
        left ^= _round(k0, k1, 0, right)
        out[i] = (left << np.uint64(_HALF_BITS)) | right
    return out


PAD = 8 - FP_BYTES  # bytes after the last packed value: every value loads as 8 bytes


def pack(values: np.ndarray) -> np.ndarray:
    """Fingerprints in :data:`FP_BYTES` little-endian bytes each, then :data:`PAD` zero
    bytes (so that a reader may load any of them as an unaligned 8-byte word)."""
    n = values.shape[0]
    out = np.zeros(FP_BYTES * n + PAD, dtype=np.uint8)
    wide = np.ascontiguousarray(values, dtype="<u8").view(np.uint8).reshape(n, 8)
    out[: FP_BYTES * n] = wide[:, :FP_BYTES].reshape(-1)
    return out


def unpack(packed: np.ndarray) -> np.ndarray:
    """The values :func:`pack` packed."""
    n = (packed.shape[0] - PAD) // FP_BYTES
    wide = np.zeros((n, 8), dtype=np.uint8)
    wide[:, :FP_BYTES] = np.asarray(packed[: FP_BYTES * n]).reshape(n, FP_BYTES)
    return wide.view("<u8").reshape(-1).astype(np.uint64)


def key_words(key: bytes) -> tuple[np.uint64, np.uint64]:
    if len(key) != KEY_BYTES:
        raise ValueError(f"fingerprint key must be {KEY_BYTES} bytes")
    return (
        np.uint64(int.from_bytes(key[:8], "little")),
        np.uint64(int.from_bytes(key[8:], "little")),
    )


def ngram_fingerprints(
    tokens: Tokens, platform: bytes, tenant: bytes, n: int = DEFAULT_N
) -> np.ndarray:
    """Tenant fingerprint of every window of ``n`` tokens; entry i covers tokens [i, i+n)."""
    return permute(
        platform_fingerprints(window_hashes(tokens.hashes, n), *key_words(platform)),
        *key_words(tenant),
    )


def siphash24_word(key: bytes, word: int) -> int:
    """SipHash-2-4 of one 64-bit word, exposed for checking against reference vectors."""
    k0, k1 = key_words(key)
    return int(_siphash24(k0, k1, np.uint64(word)))


# --- plain references: the kernels above, as their definitions -----------------------
#
# Python integers masked to 64 bits, one value at a time: slow, and written to be
# read. The tests hold each kernel to its reference on generated inputs.

_U64 = (1 << 64) - 1


def siphash24_reference(k0: int, k1: int, message: bytes) -> int:
    """SipHash-2-4 of any message, as its paper defines it (the kernels hash one
    8-byte word: ``message`` = the word's little-endian bytes)."""

    def rotl(x: int, b: int) -> int:
        return ((x << b) | (x >> (64 - b))) & _U64

    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D,
         k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]  # fmt: skip

    def rounds(count: int) -> None:
        for _ in range(count):
            v[0] = (v[0] + v[1]) & _U64
            v[1] = rotl(v[1], 13) ^ v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & _U64
            v[3] = rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & _U64
            v[3] = rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & _U64
            v[1] = rotl(v[1], 17) ^ v[2]
            v[2] = rotl(v[2], 32)

    tail = len(message) % 8
    blocks = [message[i : i + 8] for i in range(0, len(message) - tail, 8)]
    blocks.append(message[len(message) - tail :] + bytes(7 - tail) + bytes([len(message) & 0xFF]))
    for block in blocks:
        m = int.from_bytes(block, "little")
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def keyed_reference(values: list[int], k0: int, k1: int) -> list[int]:
    """What :func:`keyed` computes."""
    return [siphash24_reference(k0, k1, v.to_bytes(8, "little")) for v in values]


def platform_fingerprints_reference(values: list[int], k0: int, k1: int) -> list[int]:
    """What :func:`platform_fingerprints` computes: the top 48 bits of each hash."""
    return [h >> (64 - FP_BITS) for h in keyed_reference(values, k0, k1)]


def window_hashes_reference(hashes: list[int], n: int) -> list[int]:
    """What :func:`window_hashes` computes, without rolling: window i is
    ``sum(hashes[i + j] * BASE**(n - 1 - j))`` modulo 2**64."""
    base = int(_BASE)
    return [
        sum(hashes[i + j] * pow(base, n - 1 - j, 1 << 64) for j in range(n)) & _U64
        for i in range(len(hashes) - n + 1)
    ]


def _feistel_reference(value: int, k0: int, k1: int, order: range) -> int:
    half = (1 << _HALF_BITS) - 1

    def f(r: int, x: int) -> int:
        return siphash24_reference(k0, k1, ((r << 32) | x).to_bytes(8, "little")) & half

    left, right = value >> _HALF_BITS, value & half
    for r in order:  # even rounds change the left half, odd ones the right
        if r % 2 == 0:
            left ^= f(r, right)
        else:
            right ^= f(r, left)
    return (left << _HALF_BITS) | right


def permute_reference(values: list[int], k0: int, k1: int) -> list[int]:
    """What :func:`permute` computes: :data:`FEISTEL_ROUNDS` rounds in order."""
    return [_feistel_reference(v, k0, k1, range(FEISTEL_ROUNDS)) for v in values]


def unpermute_reference(values: list[int], k0: int, k1: int) -> list[int]:
    """What :func:`unpermute` computes: the same rounds in reverse."""
    return [_feistel_reference(v, k0, k1, range(FEISTEL_ROUNDS - 1, -1, -1)) for v in values]
