"""Content digests: each row's content columns as netstrings, hashed."""

from __future__ import annotations

import hashlib

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.gate.content import content_digest_reference, content_digests

_ROWS = st.lists(
    st.tuples(
        st.one_of(st.none(), st.text(max_size=30)),
        st.one_of(st.none(), st.binary(max_size=30)),
        st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    ),
    max_size=15,
)


@settings(max_examples=200)
@given(_ROWS, st.integers(0, 3))
def test_digests_are_the_documented_netstrings_hashed(
    rows: list[tuple[str | None, bytes | None, int | None]], cut: int
) -> None:
    table = pa.table(
        {
            "text": pa.array([r[0] for r in rows], pa.string()),
            "blob": pa.array([r[1] for r in rows], pa.binary()),
            "number": pa.array([r[2] for r in rows], pa.int64()),
        }
    ).slice(min(cut, len(rows)))
    expected = [
        content_digest_reference(
            [None if t is None else t.encode(), b, None if x is None else str(x).encode()]
        )
        for t, b, x in rows[min(cut, len(rows)) :]
    ]
    got = content_digests(table, ["text", "blob", "number"])
    assert [d.tobytes() for d in got] == expected


def test_the_reference_is_netstrings_hashed() -> None:
    assert content_digest_reference([b"ab", None, b""]) == hashlib.sha256(b"2:ab,~0:,").digest()


def test_a_large_value_gets_a_many_digit_length() -> None:
    text = "x" * 123_456
    got = content_digests(pa.table({"t": [text]}), ["t"])
    assert got[0].tobytes() == hashlib.sha256(b"123456:" + text.encode() + b",").digest()


def test_no_content_columns_hash_as_nothing() -> None:
    got = content_digests(pa.table({"id": ["a", "b"]}), [])
    assert all(d.tobytes() == hashlib.sha256(b"").digest() for d in got)
