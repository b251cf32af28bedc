"""Canonical JSON (RFC 8785, JCS) for the value shapes trainguard emits.

trainguard's own documents (decisions, log entries, manifests) never hold
floats, so the one part of JCS that needs a full ECMAScript number printer is
refused outright instead of approximated. For strings, integers, booleans,
null, arrays and objects, ``json.dumps`` with ``ensure_ascii=False`` already
emits exactly what JCS asks for; what it does not do is order keys by UTF-16
code units, which differs from code-point order only for keys outside the BMP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1


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
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise ValueError(f"{path}: integer {value} is outside ±(2^53−1)")
        return value
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in canonical documents")
    if isinstance(value, Mapping):
        items = []
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{path}: object key {k!r} is not a string")
            items.append((k, _normalize(v, f"{path}.{k}")))
        items.sort(key=lambda kv: _utf16_key(kv[0]))
        return dict(items)
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_normalize(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


_BEYOND_SURROGATES = re.compile("[\ud800-\U0010ffff]")


def _reject_float(text: str) -> Any:
    raise ValueError(f"floats are not allowed in canonical documents ({text})")


def _check_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"integer {value} is outside ±(2^53−1)")
    return value


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 canonical JSON (UTF-8 bytes)."""
    # Fast path, all in C: let json sort and encode, then parse the result back
    # to prove it says exactly what ``value`` says (no floats, no int keys
    # turned into strings, safe integers). Only text with characters at or
    # above U+D800, where code-point order and UTF-16 order can differ, and
    # values json would coerce take the slow, checked path.
    try:
        text = json.dumps(
            value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except (TypeError, ValueError):
        text = None
    if text is not None and not _BEYOND_SURROGATES.search(text):
        try:
            if json.loads(text, parse_float=_reject_float, parse_int=_check_int) == value:
                return text.encode("utf-8")
        except ValueError:
            pass
    normalized = _normalize(value, "$")
    return json.dumps(
        normalized, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")
