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

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ..arrowbuffers import value_buffers
from ..hashing import sha256_many


def _value_bytes(col: pa.Array) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        col, t = col.dictionary_decode(), t.value_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return col.cast(pa.large_binary())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return col.cast(pa.large_binary())
    if pa.types.is_nested(t):
        return pa.array(
            [
                None if v is None else orjson.dumps(v, option=orjson.OPT_SORT_KEYS, default=str)
                for v in col.to_pylist()
            ],
            pa.large_binary(),
        )
    return col.cast(pa.string()).cast(pa.large_binary())


def _netstrings(col: pa.Array) -> pa.Array:
    data = _value_bytes(col)
    lengths = pc.binary_length(data).cast(pa.string()).cast(pa.large_binary())
    colon, comma, nothing = (pa.scalar(x, pa.large_binary()) for x in (b":", b",", b""))
    framed = pc.binary_join_element_wise(lengths, colon, data, comma, nothing)
    return pc.fill_null(framed, pa.scalar(b"~", pa.large_binary()))


def content_digests(batch: pa.RecordBatch | pa.Table, columns: Sequence[str]) -> np.ndarray:
    """SHA-256 of every row's content columns (framed as the module says), (n, 32) uint8."""
    n = batch.num_rows
    parts = []
    for name in columns:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        parts.append(_netstrings(col))
    if not parts:
        return np.tile(np.frombuffer(hashlib.sha256(b"").digest(), dtype=np.uint8), (n, 1))
    joined = (
        parts[0]
        if len(parts) == 1
        else pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    )
    return sha256_of_values(joined)


def sha256_of_values(values: pa.Array) -> np.ndarray:
    """SHA-256 of each value of a string or binary array (nulls hash as empty), (n, 32).

    Hashes slices of the array's one data buffer in a native loop.
    """
    if len(values) == 0:
        return np.empty((0, 32), dtype=np.uint8)
    if not (pa.types.is_string(values.type) or pa.types.is_binary(values.type)):
        values = values.cast(pa.large_binary())
    offsets, data = value_buffers(values)
    return sha256_many(data, offsets)


def digest_array(digests: np.ndarray) -> pa.Array:
    """An (n, 32) digest array as Arrow fixed-size binary values (one copy, no per-row
    Python)."""
    n = len(digests)
    data = np.ascontiguousarray(digests, dtype=np.uint8).reshape(-1)
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(32), n, [None, pa.py_buffer(data)])
