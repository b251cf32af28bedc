"""Canonical JSON: the fast path must emit exactly what the checked path emits,
and refuse exactly what it refuses."""

from __future__ import annotations

import datetime
import enum
import math
import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard._native.jsonscan import first_fraction as _first_fraction
from trainguard.canonical import (
    _slow,
    canonical_json,
    canonical_json_many,
    first_fraction_reference,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(st.characters(exclude_categories=["Cs"])),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(st.characters(exclude_categories=["Cs"])), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_fast_path_matches_checked_path(value: Any) -> None:
    assert canonical_json(value) == _slow(value)


@given(st.lists(json_values, max_size=8))
def test_batch_matches_one_by_one(values: list[Any]) -> None:
    assert canonical_json_many(values) == [canonical_json(v) for v in values]


def test_keys_are_ordered_by_utf16_code_units() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FF61; code points say otherwise.
    assert canonical_json({"\uff61": 1, "\U0001f600": 2}) == '{"😀":2,"｡":1}'.encode()


def test_strings_are_not_escaped_beyond_what_json_requires() -> None:
    assert canonical_json({"a": 'é"\n\u001f'}) == b'{"a":"\xc3\xa9\\"\\n\\u001f"}'


class Colour(enum.Enum):
    RED = 1


@pytest.mark.parametrize(
    "value",
    [
        1.0,
        {"a": [0.5]},
        {"a": math.nan},
        {"a": math.inf},
        2**53,
        -(2**53),
        {1: "int key"},
        {"d": datetime.datetime(2024, 1, 1)},
        {"u": uuid.UUID(int=1)},
        {"e": Colour.RED},
        {"s": "\ud800"},
        b"bytes",
    ],
    ids=repr,
)
def test_refuses_what_jcs_cannot_represent_unambiguously(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_a_float_hidden_in_a_batch_is_refused() -> None:
    with pytest.raises(ValueError, match="floats"):
        canonical_json_many([{"a": 1}, {"b": [1, 2.0]}])


def test_digits_and_dots_inside_strings_are_not_floats() -> None:
    assert canonical_json({"v": "1.5e3", "w": 'x\\"1.0'}) == b'{"v":"1.5e3","w":"x\\\\\\"1.0"}'


@given(
    st.lists(
        st.sampled_from([b'"', b"\\", b"1", b"9", b".", b"e", b"E", b"a", b"-", b"\n", b","]),
        max_size=30,
    ).map(b"".join)
    | json_values.map(lambda v: canonical_json(v))
    | st.binary(max_size=30)
)
def test_the_compiled_fraction_scan_matches_the_reference(data: bytes) -> None:
    buf = np.frombuffer(data, dtype=np.uint8)
    assert _first_fraction(buf) == first_fraction_reference(data)


def test_the_fraction_reference_skips_strings() -> None:
    assert first_fraction_reference(b'{"a":"1.5","b":2.5}') == 16
    assert first_fraction_reference(b'["1.5\\"2.5"]') == -1
    assert first_fraction_reference(b"[1e3]") == 2


json_with_floats = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.sampled_from('ab1.eE"\\\n'), max_size=6),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=3), children)
    ),
    max_leaves=12,
)


@given(json_with_floats)
def test_fraction_scan_agrees_with_the_compiled_scan(value: Any) -> None:
    """Small documents are scanned by a regular expression, large ones by the compiled
    loop: both must find the same first fraction or exponent (or none)."""
    import json

    import numpy as np

    from trainguard._native.jsonscan import first_fraction as compiled
    from trainguard.canonical import first_fraction

    joined = json.dumps(value, separators=(",", ":")).encode()
    assert first_fraction(joined) == compiled(np.frombuffer(joined, dtype=np.uint8))


def test_large_batches_take_the_compiled_scan() -> None:
    from trainguard.canonical import COMPILED_SCAN_BYTES

    many = [{"text": "1.5e3 in a string", "n": i} for i in range(COMPILED_SCAN_BYTES // 20)]
    assert canonical_json_many(many)[7] == b'{"n":7,"text":"1.5e3 in a string"}'
    with pytest.raises(ValueError, match="floats"):
        canonical_json_many([*many, {"x": 0.5}])
