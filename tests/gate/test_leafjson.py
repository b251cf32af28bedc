"""The compiled JSON encoder of manifest columns writes what canonical JSON writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from trainguard.canonical import canonical_json
from trainguard.gate.leafjson import json_values
from trainguard.timeutil import to_micros

# Every escape class: quotes, backslashes, the short control escapes, the other
# control characters, DEL, non-ASCII and astral characters.
_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\\b\t\n\f\r\x00\x1f\x7f/aZ é€'), st.characters(codec="utf-8")
    ),
    max_size=12,
)


def _decoded(col: pa.Array) -> list[bytes]:
    offsets, data = json_values(col)
    raw = data.tobytes()
    return [raw[offsets[i] : offsets[i + 1]] for i in range(len(col))]


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=20), st.integers(0, 5))
def test_strings_match_canonical_json(values: list[str | None], cut: int) -> None:
    col = pa.array(values, pa.string()).slice(min(cut, len(values)))
    assert _decoded(col) == [canonical_json(v) for v in col.to_pylist()]


@given(
    st.lists(st.one_of(st.none(), st.lists(st.one_of(st.none(), _TEXT), max_size=4)), max_size=12),
    st.integers(0, 4),
)
def test_lists_match_canonical_json_and_null_lists_are_empty(
    values: list[list[str | None] | None], cut: int
) -> None:
    col = pa.array(values, pa.list_(pa.string())).slice(min(cut, len(values)))
    assert _decoded(col) == [canonical_json(v or []) for v in col.to_pylist()]


# Canonical JSON integers stop at 2^53 - 1 microseconds: the years 1685 to 2255.
_WHEN = st.datetimes(datetime(1700, 1, 1), datetime(2250, 1, 1), timezones=st.just(UTC))


@given(st.lists(st.one_of(st.none(), _WHEN), max_size=12))
def test_timestamps_are_integer_microseconds(values: list[datetime | None]) -> None:
    col = pa.array(values, pa.timestamp("us", tz="UTC"))
    expected = [canonical_json(None if v is None else to_micros(v)) for v in values]
    assert _decoded(col) == expected


def test_booleans_and_nulls() -> None:
    assert _decoded(pa.array([True, False, None])) == [b"true", b"false", b"null"]
