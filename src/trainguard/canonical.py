"""Canonical JSON (RFC 8785, JCS) for the value shapes trainguard emits.

trainguard's own documents (decisions, log entries, manifests) never hold
floats, so the one part of JCS that needs a full ECMAScript number printer is
refused outright instead of approximated. For strings, integers, booleans,
null, arrays and objects, sorted-key compact JSON without ASCII escaping is
exactly what JCS asks for, except that JCS orders keys by UTF-16 code units,
which differs from code-point order only for keys at or above U+D800.

The fast path lets orjson (C) do the work and then proves the result: the
output parses back to a value equal to the input (nothing was coerced: no
NaN turned into null, no enum or UUID turned into a string), holds no number
with a fraction or exponent (no float slipped through as ``1.0``), and holds
no character where code-point and UTF-16 order can differ. Anything that
fails a proof takes the slow, checked path, which refuses what JCS cannot
represent unambiguously.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

MAX_SAFE_INTEGER = 2**53 - 1

# Subclasses, datetimes and dataclasses go to ``default`` (which refuses), so
# orjson never quietly turns them into strings or objects.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS
    | orjson.OPT_STRICT_INTEGER
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
)
_BEYOND_SURROGATES = re.compile("[\ud800-\U0010ffff]")
# A string (skipped whole, escapes and all) or a digit followed by . e E: outside
# strings, only a number with a fraction or an exponent has one.
_STRING_OR_FRACTION = re.compile(rb'"(?:[^"\\]|\\.)*"|[0-9][.eE]')
# Below this many bytes the regular expression answers sooner than loading the
# compiled scan would (numba alone takes longer to import than a decision takes).
COMPILED_SCAN_BYTES = 64 * 1024


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _normalize(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            # Lone surrogates cannot be encoded as UTF-8: refuse rather than mangle.
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise ValueError(f"{path}: string is not valid Unicode") from exc
            return str(value)
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer {value} is outside ±(2^53−1)")
        return int(value)
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in canonical documents")
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: object key {k!r} is not a string")
            items.append((str(k), _normalize(v, f"{path}.{k}")))
        items.sort(key=lambda kv: _utf16_key(kv[0]))
        return dict(items)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_normalize(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def _slow(value: Any) -> bytes:
    import json

    normalized = _normalize(value, "$")
    return json.dumps(
        normalized, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def first_fraction(joined: bytes) -> int:
    """Offset of the first number with a fraction or exponent outside strings, or -1."""
    if len(joined) >= COMPILED_SCAN_BYTES:
        import numpy as np

        from ._native.jsonscan import first_fraction as compiled

        return int(compiled(np.frombuffer(joined, dtype=np.uint8)))
    for match in _STRING_OR_FRACTION.finditer(joined):
        if joined[match.start()] != 0x22:  # not a string: a digit and . e E
            return match.start() + 1
    return -1


def first_fraction_reference(data: bytes) -> int:
    """What :func:`first_fraction` and the compiled
    :func:`trainguard._native.jsonscan.first_fraction` compute: where the first ``.``, ``e`` or ``E``
    right after a digit and outside any string stands, or −1. Strings are found with
    a regular expression: a quote, escapes or other bytes, then a quote or the end."""
    import re

    outside = re.sub(rb'"(?:\\.|[^"\\])*(?:"|\\?\Z)', lambda m: b"\0" * len(m[0]), data, flags=re.S)
    found = re.search(rb"[0-9][.eE]", outside)
    return -1 if found is None else found.start() + 1


def _fast_many(values: Sequence[Any]) -> list[bytes] | None:
    """All values through the fast path, or None if any of them needs the slow one."""
    try:
        encoded = [orjson.dumps(v, default=_refuse, option=_ORJSON_OPTIONS) for v in values]
    except (TypeError, orjson.JSONEncodeError):
        return None
    # A newline never appears unescaped in compact JSON, so it can join documents.
    joined = b"\n".join(encoded)
    if first_fraction(joined) >= 0:
        return None
    if not joined.isascii() and _BEYOND_SURROGATES.search(joined.decode("utf-8")):
        return None
    if orjson.loads(b"[" + b",".join(encoded) + b"]") != list(values):
        return None
    return encoded


def canonical_json_many(values: Sequence[Any]) -> list[bytes]:
    """RFC 8785 canonical JSON for many values at once (one proof for the batch)."""
    fast = _fast_many(values)
    if fast is not None:
        return fast
    return [canonical_json(v) for v in values]


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 canonical JSON (UTF-8 bytes)."""
    fast = _fast_many((value,))
    if fast is not None:
        return fast[0]
    return _slow(value)
