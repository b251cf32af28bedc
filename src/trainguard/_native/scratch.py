"""Buffers reused from batch to batch, per thread.

Fresh arrays of megabytes page-fault their way in on every batch; on the
virtual machines measured here a fresh page costs ~3 µs, more than writing
it. Batch loops take their working arrays from here instead: each name keeps
one array per thread, grown (doubling) when a batch needs more. What a caller
gets is valid until its next call with the same name in the same thread.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_LOCAL = threading.local()


def scratch(name: str, size: int, dtype: Any = np.uint8) -> np.ndarray:
    """A 1-D array of ``size`` elements of ``dtype`` (contents undefined)."""
    pool: dict[str, np.ndarray] | None = getattr(_LOCAL, "pool", None)
    if pool is None:
        pool = _LOCAL.pool = {}
    buf = pool.get(name)
    if buf is None or buf.shape[0] < size or buf.dtype != np.dtype(dtype):
        old = 0 if buf is None or buf.dtype != np.dtype(dtype) else buf.shape[0]
        buf = pool[name] = np.empty(max(size, 1, 2 * old), dtype=dtype)
    return buf[:size]
