"""The SHA-256 of each record's content, computed column-wise.

A record's content is the values of its content columns, in the order the
manifest lists them. Each value is written as a netstring of its bytes
(``<length>:<bytes>,``) or ``~`` when null, and the record's digest is the
SHA-256 of those fields concatenated. Value bytes: text as UTF-8, binary as
is, numbers, booleans, dates and times as Arrow prints them, nested values
(lists, structs, maps) as JSON with sorted keys. The framing makes the
encoding unambiguous: no two different records share a byte string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np
import orjson
import pyarrow as pa

from .._native.arrowbuffers import valid_mask, value_buffers
from .._native.compiled import copy_bytes
from .._native.hashing import sha256_many
from .._native.scratch import scratch


@numba.njit(cache=True, inline="always")
def _digits(v: int) -> int:
    """Decimal digits of ``v >= 0``."""
    n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


@numba.njit(cache=True)
def _add_lengths(offsets: Any, valid: Any, lens: Any) -> None:  # pragma: no cover - compiled
    """Add each value's netstring length (``~`` for null) to ``lens``."""
    for i in range(lens.shape[0]):
        if not valid[i]:
            lens[i] += 1
            continue
        size = offsets[i + 1] - offsets[i]
        lens[i] += _digits(size) + 2 + size


@numba.njit(cache=True)
def _write_netstrings(
    offsets: Any, data: Any, valid: Any, out: Any, pos: Any
) -> None:  # pragma: no cover - compiled
    """Value i's netstring at ``out[pos[i]:]``; ``pos[i]`` moves past it."""
    for i in range(pos.shape[0]):
        c = pos[i]
        if not valid[i]:
            out[c] = 126  # ~
            pos[i] = c + 1
            continue
        a, size = offsets[i], offsets[i + 1] - offsets[i]
        digits = _digits(size)
        v = size
        for k in range(digits - 1, -1, -1):
            out[c + k] = 48 + v % 10
            v //= 10
        c += digits
        out[c] = 58  # :
        copy_bytes(out, c + 1, data, a, size)
        out[c + 1 + size] = 44  # ,
        pos[i] = c + 2 + size


def content_digest_reference(values: Sequence[bytes | None]) -> bytes:
    """One record's digest as the module defines it (the reference :func:`_add_lengths`
    and :func:`_write_netstrings` are held to): each value's bytes as a netstring,
    ``~`` for null, concatenated and hashed."""
    framed = b"".join(b"~" if v is None else b"%d:%s," % (len(v), v) for v in values)
    return hashlib.sha256(framed).digest()


def _value_bytes(col: pa.Array) -> pa.Array:
    """The column's values as the bytes the digest frames: text and binary as they
    are (no copy), everything else converted."""
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.dictionary_decode(), t.value_type
    if any(
        f(t)
        for f in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                  pa.types.is_large_binary)
    ):  # fmt: skip
        return col
    if pa.types.is_fixed_size_binary(t):
        return col.cast(pa.large_binary())
    if pa.types.is_nested(t):
        return pa.array(
            [
                None if v is None else orjson.dumps(v, option=orjson.OPT_SORT_KEYS, default=str)
                for v in col.to_pylist()
            ],
            pa.large_binary(),
        )
    return col.cast(pa.string())


def content_digests(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> np.ndarray:
    """SHA-256 of every row's content columns (framed as the module says), (n, 32) uint8.

    Each row's netstrings are written side by side into one buffer, a column at a
    time, then hashed row by row in one native loop."""
    n = batch.num_rows
    if not columns:
        return np.tile(np.frombuffer(hashlib.sha256(b"").digest(), dtype=np.uint8), (n, 1))
    values = []
    for name in columns:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        col = _value_bytes(col)
        values.append((*value_buffers(col), valid_mask(col)))
    lens = np.zeros(n, dtype=np.int64)
    for offsets, _, valid in values:
        _add_lengths(offsets, valid, lens)
    row_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=row_offsets[1:])
    out = scratch("content", int(row_offsets[-1]))
    pos = row_offsets[:-1].copy()
    for offsets, data, valid in values:
        _write_netstrings(offsets, data, valid, out, pos)
    return sha256_many(out, row_offsets)


def digest_array(digests: np.ndarray) -> pa.Array:
    """An (n, 32) digest array as Arrow fixed-size binary values (one copy, no per-row
    Python)."""
    n = len(digests)
    data = np.ascontiguousarray(digests, dtype=np.uint8).reshape(-1)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(data)])
