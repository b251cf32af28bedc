"""Compiled scans over JSON bytes: numbers with a fraction or an exponent in a
large document (:func:`trainguard.canonical.first_fraction` uses it from 64 KiB
on), and the index each audit entry claims (the log's verification). Kept
apart so that appending to the log or writing canonical JSON loads no numba."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def first_fraction(buf: np.ndarray) -> int:  # pragma: no cover - compiled
    """Offset of the first number with a fraction or exponent outside strings, or -1."""
    in_string = False
    escaped = False
    prev = 0
    for i in range(buf.shape[0]):
        c = buf[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == 92:  # backslash
                escaped = True
            elif c == 34:  # quote
                in_string = False
        elif c == 34:
            in_string = True
        elif (c == 46 or c == 101 or c == 69) and 48 <= prev <= 57:  # . e E after a digit
            return i
        prev = c
    return -1


@numba.njit(cache=True)
def claimed_indexes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The top-level ``"index"`` each message ``data[offsets[i]:offsets[i+1]]`` claims
    (−1: none), as :func:`trainguard.audit.log._claimed_index` reads one body."""
    pattern = np.array([44, 34, 105, 110, 100, 101, 120, 34, 58], dtype=np.uint8)  # ,"index":
    out = np.full(offsets.shape[0] - 1, -1, dtype=np.int64)
    for i in range(offsets.shape[0] - 1):
        lo, hi = offsets[i], offsets[i + 1]
        at = hi - 9
        while at >= lo:
            match = True
            for k in range(9):
                if data[at + k] != pattern[k]:
                    match = False
                    break
            if match:
                break
            at -= 1
        if at < lo:
            continue
        value, digits, j = 0, 0, at + 9
        while j < hi and 48 <= data[j] <= 57 and digits < 18:
            value = value * 10 + int(data[j] - 48)  # int: not uint8 arithmetic as plain Python
            digits += 1
            j += 1
        if digits and j < hi and data[j] == 44:
            out[i] = value
    return out


def claimed_indexes_reference(bodies: list[bytes]) -> list[int]:
    """What :func:`claimed_indexes` computes, body by body: after the last
    ``,"index":``, one to 18 digits then a comma, as a number; −1 otherwise."""
    out = []
    for body in bodies:
        at = body.rfind(b',"index":')
        digits = body[at + 9 :][:18] if at >= 0 else b""
        run = len(digits) - len(digits.lstrip(b"0123456789"))
        whole = run > 0 and body[at + 9 + run : at + 10 + run] == b","
        out.append(int(digits[:run]) if whole else -1)
    return out
