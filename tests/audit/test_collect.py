"""The compiled check that each log row's body ends with its kind column, held to its
plain reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.audit.collect import _kind_tail_mismatches, kind_tail_mismatches_reference
from trainguard.canonical import canonical_json

_KIND = st.one_of(
    st.sampled_from([b"consent.grant", b"log.origin", b"", b'a"b', b"a\\b", b"tab\tkind"]),
    st.binary(max_size=12),
)


def _pack(items: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(items) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in items], out=offsets[1:])
    return np.frombuffer(b"".join(items) or b"\0", dtype=np.uint8), offsets


@st.composite
def _row(draw: st.DrawFn) -> tuple[bytes, bool, bytes]:
    kind = draw(_KIND)
    entry = canonical_json(
        {"data": {"x": draw(st.integers(-(2**53) + 1, 2**53 - 1))}, "index": 1, "kind": "k"}
    )
    body = draw(
        st.sampled_from(
            [
                entry[: -len(b'"k"}')] + b'"' + kind + b'"}',  # a body of this kind
                entry,  # a body of another kind
                draw(st.binary(max_size=40)),  # not an entry at all
                b',"kind":"' + kind + b'"}',  # nothing but the tail
            ]
        )
    )
    return body, draw(st.booleans()), kind


@given(st.lists(_row(), max_size=20))
def test_kind_tail_mismatches_match_the_reference(rows: list[tuple[bytes, bool, bytes]]) -> None:
    bodies, present, kinds = (
        (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [])
    )
    data, offsets = _pack(bodies)
    kind_data, kind_offsets = _pack(kinds)
    got = _kind_tail_mismatches(data, offsets, np.array(present, bool), kind_data, kind_offsets)
    assert got.tolist() == kind_tail_mismatches_reference(bodies, present, kinds)
