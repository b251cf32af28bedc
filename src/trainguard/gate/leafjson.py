"""Canonical JSON values of Arrow columns, written by compiled loops.

A manifest leaf is the RFC 8785 JSON of one row. Building it with Arrow's
string kernels took a dozen passes per column (quote, escape check, join,
dictionary-encode, take); here a column is checked once for bytes that need
escaping, then each value's JSON length is counted and the JSON written
straight to where the caller wants it (:class:`JsonColumn`). Strings are
escaped as RFC 8785 (and Python's ``json``, and orjson) escape them: ``\\"``,
``\\\\``, the five short forms ``\\b \\t \\n \\f \\r``, other control characters as
``\\u00xx`` in lower case; everything else, non-ASCII included, is copied as
UTF-8 — with one ``memcpy`` per value when the column needs no escaping.
:func:`json_values` gives a column's JSON as ``(offsets, data)``."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import pyarrow as pa

from ..arrowbuffers import valid_mask, value_buffers
from ..compiled import copy_bytes

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHORT = np.zeros(32, dtype=np.uint8)  # control character -> its one-letter escape, or 0
for _c, _letter in ((8, "b"), (9, "t"), (10, "n"), (12, "f"), (13, "r")):
    _SHORT[_c] = ord(_letter)
_NULL = np.frombuffer(b"null", dtype=np.uint8)
_TRUE = np.frombuffer(b"true", dtype=np.uint8)
_FALSE = np.frombuffer(b"false", dtype=np.uint8)


@numba.njit(cache=True, inline="always")
def _escaped_length(b: int) -> int:
    if b == 34 or b == 92:
        return 2
    if b < 32:
        return 2 if _SHORT[b] != 0 else 6
    return 1


@numba.njit(cache=True)
def _any_escape(data: Any, a: int, b: int) -> bool:  # pragma: no cover - compiled
    """Whether any byte of ``data[a:b]`` needs escaping (no early exit: vectorizes)."""
    found = False
    for k in range(a, b):
        x = data[k]
        found |= (x < 32) | (x == 34) | (x == 92)
    return found


@numba.njit(cache=True)
def _string_length(data: Any, a: int, b: int, plain: bool) -> int:  # pragma: no cover
    if plain:
        return b - a + 2
    n = 2
    for k in range(a, b):
        n += _escaped_length(data[k])
    return n


@numba.njit(cache=True)
def _write_string(
    out: Any, c: int, data: Any, a: int, b: int, plain: bool
) -> int:  # pragma: no cover
    """One JSON string at ``out[c:]``; returns where it ends. ``plain``: nothing to escape."""
    out[c] = 34
    c += 1
    if plain:
        copy_bytes(out, c, data, a, b - a)
        out[c + b - a] = 34
        return c + b - a + 1
    for k in range(a, b):
        x = data[k]
        if x == 34 or x == 92:
            out[c] = 92
            out[c + 1] = x
            c += 2
        elif x < 32:
            out[c] = 92
            if _SHORT[x] != 0:
                out[c + 1] = _SHORT[x]
                c += 2
            else:
                out[c + 1] = 117  # u
                out[c + 2] = 48
                out[c + 3] = 48
                out[c + 4] = _HEX[x >> 4]
                out[c + 5] = _HEX[x & 15]
                c += 6
        else:
            out[c] = x
            c += 1
    out[c] = 34
    return c + 1


@numba.njit(cache=True)
def _write_null(out: Any, c: int) -> int:  # pragma: no cover - compiled
    for k in range(4):
        out[c + k] = _NULL[k]
    return c + 4


# Each kind of column has two loops: the length of every value's JSON, then the
# JSON itself written at given positions — so a caller can lay values straight
# into their final place (a manifest leaf) without an intermediate copy.


@numba.njit(cache=True)
def _strings_len(
    offsets: Any, data: Any, valid: Any, plain: bool, lens: Any
) -> None:  # pragma: no cover - compiled
    for i in range(lens.shape[0]):
        lens[i] = _string_length(data, offsets[i], offsets[i + 1], plain) if valid[i] else 4


@numba.njit(cache=True)
def _strings_write(
    offsets: Any, data: Any, valid: Any, plain: bool, out: Any, pos: Any, r0: int, r1: int
) -> None:  # pragma: no cover - compiled
    for i in range(r0, r1):
        if valid[i]:
            _write_string(out, pos[i], data, offsets[i], offsets[i + 1], plain)
        else:
            _write_null(out, pos[i])


@numba.njit(cache=True)
def _lists_len(
    list_offsets: Any,
    list_valid: Any,
    offsets: Any,
    data: Any,
    valid: Any,
    plain: bool,
    lens: Any,
) -> None:  # pragma: no cover - compiled
    """JSON arrays of strings; a null list is written ``[]``, a null element ``null``."""
    for i in range(lens.shape[0]):
        size = 2
        if list_valid[i]:
            lo, hi = list_offsets[i], list_offsets[i + 1]
            if hi > lo:
                size += hi - lo - 1  # commas
            for j in range(lo, hi):
                size += _string_length(data, offsets[j], offsets[j + 1], plain) if valid[j] else 4
        lens[i] = size


@numba.njit(cache=True)
def _lists_write(
    list_offsets: Any,
    list_valid: Any,
    offsets: Any,
    data: Any,
    valid: Any,
    plain: bool,
    out: Any,
    pos: Any,
    r0: int,
    r1: int,
) -> None:  # pragma: no cover - compiled
    for i in range(r0, r1):
        c = pos[i]
        out[c] = 91  # [
        c += 1
        if list_valid[i]:
            for j in range(list_offsets[i], list_offsets[i + 1]):
                if j > list_offsets[i]:
                    out[c] = 44  # ,
                    c += 1
                c = (
                    _write_string(out, c, data, offsets[j], offsets[j + 1], plain)
                    if valid[j]
                    else _write_null(out, c)
                )
        out[c] = 93  # ]


@numba.njit(cache=True)
def _integers_len(values: Any, valid: Any, lens: Any) -> None:  # pragma: no cover - compiled
    for i in range(lens.shape[0]):
        size = 4
        if valid[i]:
            v = values[i]
            size = 1 if v >= 0 else 2
            v = abs(v)
            while v >= 10:
                v //= 10
                size += 1
        lens[i] = size


@numba.njit(cache=True)
def _integers_write(
    values: Any, valid: Any, out: Any, pos: Any, lens: Any, r0: int, r1: int
) -> None:  # pragma: no cover - compiled
    for i in range(r0, r1):
        if not valid[i]:
            _write_null(out, pos[i])
            continue
        v = values[i]
        if v < 0:
            out[pos[i]] = 45  # -
            v = -v
        c = pos[i] + lens[i] - 1  # digits from the last one back
        while True:
            out[c] = 48 + v % 10
            v //= 10
            c -= 1
            if v == 0:
                break


@numba.njit(cache=True)
def _booleans_len(values: Any, valid: Any, lens: Any) -> None:  # pragma: no cover - compiled
    for i in range(lens.shape[0]):
        lens[i] = 4 if not valid[i] or values[i] else 5


@numba.njit(cache=True)
def _booleans_write(
    values: Any, valid: Any, out: Any, pos: Any, r0: int, r1: int
) -> None:  # pragma: no cover - compiled
    for i in range(r0, r1):
        # No array variable here: numba would count references on every row.
        if not valid[i]:
            _write_null(out, pos[i])
        elif values[i]:
            for k in range(4):
                out[pos[i] + k] = _TRUE[k]
        else:
            for k in range(5):
                out[pos[i] + k] = _FALSE[k]


def _string_buffers(col: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    if not pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    return value_buffers(col)


class JsonColumn:
    """One column's values as canonical JSON: :meth:`lengths`, then :meth:`write`.

    Strings, lists of strings (a null list is ``[]``), timestamps (integer
    microseconds since the epoch, UTC) and booleans."""

    def __init__(self, col: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        self.rows = len(col)
        self.args: tuple[Any, ...]
        if pa.types.is_timestamp(col.type):
            micros = col.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
            values = micros.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
            self.kind, self.args = "integers", (values, valid_mask(micros))
        elif pa.types.is_boolean(col.type):
            values = col.fill_null(False).to_numpy(zero_copy_only=False).astype(np.bool_)
            self.kind, self.args = "booleans", (values, valid_mask(col))
        elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
            col = col.cast(pa.list_(pa.string()))
            # ``offsets`` of a sliced list array still index the unsliced ``values``.
            list_offsets = col.offsets.to_numpy().astype(np.int64)
            child = col.values
            offsets, data = _string_buffers(child)
            a, b = offsets[list_offsets[0]], offsets[list_offsets[-1]]
            plain = not _any_escape(data, a, b)
            self.kind = "lists"
            self.args = (list_offsets, valid_mask(col), offsets, data, valid_mask(child), plain)
        else:
            offsets, data = _string_buffers(col)
            plain = not _any_escape(data, offsets[0], offsets[-1])
            self.kind, self.args = "strings", (offsets, data, valid_mask(col), plain)

    def lengths(self) -> np.ndarray:
        """Bytes of each value's JSON."""
        lens = np.empty(self.rows, dtype=np.int64)
        _LENGTH[self.kind](*self.args, lens)
        return lens

    def write(
        self,
        out: np.ndarray,
        pos: np.ndarray,
        lens: np.ndarray,
        rows: tuple[int, int] | None = None,
    ) -> None:
        """Write value i's JSON at ``out[pos[i]:pos[i] + lens[i]]``, for i in ``rows``
        (all by default)."""
        r0, r1 = rows or (0, self.rows)
        if self.kind == "integers":  # writes its digits from the end back: needs lens
            write: Any = _integers_write
            write(*self.args, out, pos, lens, r0, r1)
        else:
            _WRITE[self.kind](*self.args, out, pos, r0, r1)


_LENGTH: dict[str, Any] = {
    "strings": _strings_len,
    "lists": _lists_len,
    "integers": _integers_len,
    "booleans": _booleans_len,
}
_WRITE: dict[str, Any] = {
    "strings": _strings_write,
    "lists": _lists_write,
    "booleans": _booleans_write,
}


def json_values(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical JSON of every value of a column, as (offsets, data)."""
    column = JsonColumn(col)
    lens = column.lengths()
    offsets = np.zeros(column.rows + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    column.write(out, offsets[:-1], lens)
    return offsets, out
