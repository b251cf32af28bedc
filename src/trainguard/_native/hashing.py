"""SHA-256 of many short messages in one native loop.

Manifests, Merkle trees and the audit log hash millions of messages of a few
hundred bytes. Through ``hashlib`` each costs a Python call and a bytes object
(~0.7 µs here), more than the hashing itself. So a numba loop calls OpenSSL's
SHA-256 (the same libcrypto ``hashlib`` uses, with its SHA-NI code) directly on
slices of one buffer: ~0.25 µs per 250-byte message, no objects. Where
libcrypto cannot be loaded, or under ``NUMBA_DISABLE_JIT=1`` (where the loop
would be plain Python calling C through ctypes), the same functions fall back
to ``hashlib``: that fallback is the loop's reference, and the tests hold the
loop to it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
from typing import Any

import numba
import numpy as np

from .compiled import JIT, c_call_p, c_call_pp, c_call_ppn
from .scratch import scratch

_CTX_BYTES = 256  # sizeof(SHA256_CTX) is 112; room to spare


def _libcrypto_addresses() -> tuple[int, int, int] | None:
    """Addresses of OpenSSL's SHA256_Init, SHA256_Update and SHA256_Final, if loadable."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        funcs = (lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final)
    except (OSError, AttributeError):
        return None
    addresses = tuple(ctypes.cast(f, ctypes.c_void_p).value for f in funcs)
    if any(a is None for a in addresses):
        return None
    return addresses  # type: ignore[return-value]


@numba.njit(cache=True, nogil=True)
def _kernel(
    init: int, update: int, final: int, data: Any, offsets: Any, out: Any, ctx: Any, prefix: Any
) -> None:  # pragma: no cover - compiled
    # The C functions come in as addresses (compiled.c_call_*), so this loop is
    # cached to disk like the others instead of compiled in every process.
    base = data.ctypes.data
    dest = out.ctypes.data
    c = ctx.ctypes.data
    pre = prefix.ctypes.data
    plen = prefix.shape[0]
    for i in range(offsets.shape[0] - 1):
        c_call_p(init, c)
        if plen:
            c_call_ppn(update, c, pre, plen)
        c_call_ppn(update, c, base + offsets[i], offsets[i + 1] - offsets[i])
        c_call_pp(final, dest + 32 * i, c)


_ADDRESSES: tuple[int, int, int] | None = None
_ADDRESSES_LOADED = False


def _addresses() -> tuple[int, int, int] | None:
    global _ADDRESSES, _ADDRESSES_LOADED
    if not _ADDRESSES_LOADED:
        _ADDRESSES, _ADDRESSES_LOADED = (_libcrypto_addresses() if JIT else None), True
    return _ADDRESSES


def native() -> bool:
    """True when the native loop is in use (else hashlib)."""
    return _addresses() is not None


def sha256_many(
    data: np.ndarray | bytes | memoryview, offsets: np.ndarray, prefix: bytes = b""
) -> np.ndarray:
    """SHA-256 of ``prefix ‖ data[offsets[i]:offsets[i+1]]`` for every i, as (n, 32) uint8."""
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    bounds = np.ascontiguousarray(offsets, dtype=np.int64)
    n = max(len(bounds) - 1, 0)
    out = np.empty((n, 32), dtype=np.uint8)
    if n == 0:
        return out
    if bounds[0] < 0 or bounds[-1] > len(buf) or np.any(np.diff(bounds) < 0):
        raise ValueError("offsets must be non-decreasing and inside the buffer")
    addresses = _addresses()
    if addresses is not None:
        if len(buf) == 0:
            buf = np.zeros(1, dtype=np.uint8)  # a valid pointer for empty messages
        _kernel(
            *addresses,
            np.ascontiguousarray(buf),
            bounds,
            out,
            np.zeros(_CTX_BYTES, dtype=np.uint8),
            np.frombuffer(prefix or b"\0", dtype=np.uint8)[: len(prefix)].copy(),
        )
        return out
    raw = np.ascontiguousarray(buf).tobytes()
    b = bounds.tolist()
    for i in range(n):
        digest = hashlib.sha256(prefix + raw[b[i] : b[i + 1]]).digest()
        out[i] = np.frombuffer(digest, dtype=np.uint8)
    return out


def sha256_rows(messages: np.ndarray) -> np.ndarray:
    """SHA-256 of each row of a 2-D uint8 array (fixed-length messages)."""
    n, width = messages.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return sha256_many(np.ascontiguousarray(messages).reshape(-1), offsets)


def merkle_parents(children: np.ndarray) -> np.ndarray:
    """RFC 9162 node hashes SHA-256(0x01 ‖ left ‖ right) of consecutive pairs of an
    (m, 32) array; an odd last child is left out."""
    pairs = children.shape[0] // 2
    msgs = scratch("merkle", pairs * 65).reshape(pairs, 65)
    msgs[:, 0] = 1
    msgs[:, 1:33] = children[0 : 2 * pairs : 2]
    msgs[:, 33:65] = children[1 : 2 * pairs : 2]
    return sha256_rows(msgs)
