"""The buffers of Arrow arrays as numpy arrays, for compiled loops."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def value_buffers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64, data bytes) of a string or binary array (either width):
    value ``i`` is ``data[offsets[i]:offsets[i + 1]]``, slice offset honoured.
    Nulls are whatever span their slot has (usually empty). The data array is
    never empty, so compiled code always gets a valid pointer."""
    t = col.type
    wide = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
    if not (wide or pa.types.is_string(t) or pa.types.is_binary(t)):
        raise TypeError(f"not a string or binary array: {t}")
    _, offsets_buf, data_buf = col.buffers()
    if offsets_buf is None:  # an empty array
        return np.zeros(len(col) + 1, dtype=np.int64), np.zeros(1, np.uint8)
    width = np.int64 if wide else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[col.offset : col.offset + len(col) + 1]
    if data_buf is None or data_buf.size == 0:
        return offsets.astype(np.int64), np.zeros(1, np.uint8)
    return offsets.astype(np.int64), np.frombuffer(data_buf, dtype=np.uint8)


def valid_mask(col: pa.Array) -> np.ndarray:
    """A new bool array: True where the value is not null."""
    if col.null_count == 0:
        return np.ones(len(col), dtype=np.bool_)
    return np.asarray(col.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
