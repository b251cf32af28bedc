"""Manifest leaves: the compiled writer writes what the plain definition says."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.decision.decide import CoreDecision
from trainguard.gate.decisions import REGISTERED_CUSTOMER_CONTENT, DecisionTable
from trainguard.gate.leaves import (
    decision_bytes,
    decision_digests,
    leaf_bytes,
    leaf_hashes,
    reference_decision,
    reference_leaf,
)
from trainguard.gate.manifest import MANIFEST_SCHEMA

_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from('"\\\x00\n,:~é€'), st.characters(codec="utf-8")),
    max_size=20,
)
_TEXTS = st.one_of(st.none(), st.lists(st.one_of(st.none(), _TEXT), max_size=4))
_ROW = st.fixed_dictionaries(
    {
        "id": _TEXT,
        "tenant": st.one_of(st.none(), _TEXT),
        "categories": _TEXTS,
        "collected_at": st.one_of(
            st.none(),
            st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC)),
        ),
        "subjects": _TEXTS,
        "derived_from": _TEXTS,
        "content_sha256": st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
        "allowed": st.one_of(st.none(), st.booleans()),
        "reasons": _TEXTS,
        "rules": _TEXTS,
        "policy_at_use": st.one_of(st.none(), _TEXT),
        "policy_at_collection": st.one_of(st.none(), _TEXT),
        "consents": _TEXTS,
    }
)


def _split(data: np.ndarray, offsets: np.ndarray) -> list[bytes]:
    raw = data.tobytes()
    return [raw[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]


@settings(max_examples=300)
@given(st.lists(_ROW, max_size=12), st.integers(0, 4))
def test_compiled_leaves_are_the_definition_row_by_row(
    rows: list[dict[str, Any]], cut: int
) -> None:
    # A slice, so offsets into shared buffers are honoured too.
    batch = pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA).slice(min(cut, len(rows)))
    expected = batch.to_pylist()
    assert _split(*decision_bytes(batch)) == [_decision_fields(r) for r in expected]
    assert [d.tobytes() for d in decision_digests(batch)] == [
        reference_decision(r) for r in expected
    ]
    assert _split(*leaf_bytes(batch)) == [b"\x00" + reference_leaf(r) for r in expected]
    assert [h.tobytes() for h in leaf_hashes(batch)] == [
        hashlib.sha256(b"\x00" + reference_leaf(r)).digest() for r in expected
    ]


def _decision_fields(row: dict[str, Any]) -> bytes:
    """What a decision digest hashes, written here straight from the documented format."""

    def field(v: bytes | None) -> bytes:
        return b"\xff\xff\xff\xff" if v is None else struct.pack("<I", len(v)) + v

    def texts(vs: list[str | None] | None) -> bytes:
        if vs is None:
            return field(None)
        return struct.pack("<I", len(vs)) + b"".join(
            field(None if v is None else v.encode()) for v in vs
        )

    allowed = row["allowed"]
    return (
        field(None if allowed is None else bytes([allowed]))
        + texts(row["reasons"])
        + texts(row["rules"])
        + field(None if row["policy_at_use"] is None else row["policy_at_use"].encode())
        + field(
            None if row["policy_at_collection"] is None else row["policy_at_collection"].encode()
        )
        + texts(row["consents"])
    )


def test_the_format_tells_null_from_empty_and_list_from_text() -> None:
    base = {"id": "r", "categories": ["a"], "allowed": True}
    variants = [
        base,
        {**base, "categories": []},
        {**base, "categories": None},
        {**base, "categories": [""]},
        {**base, "categories": [None]},
        {**base, "tenant": ""},
        {**base, "subjects": ["a"], "categories": []},
        {**base, "allowed": False},
        {**base, "allowed": None},
    ]
    assert len({reference_leaf(v) for v in variants}) == len(variants)


def _core(allowed: bool, reasons: tuple[str, ...], consents: tuple[str, ...] = ()) -> CoreDecision:
    return CoreDecision(allowed, reasons, ("rule-1",), None, None, consents, None)


def test_a_decision_table_gives_rows_the_digests_the_definition_gives() -> None:
    table = DecisionTable()
    yes, no = _core(True, ("ALLOWED_BY_RULE",)), _core(False, ("CONSENT_WITHDRAWN",), ("c-1",))
    decided = [yes, no]
    numbers = table.numbers(np.array([0, 1, 0, 1, 0]), decided)
    assert numbers.tolist() == [0, 1, 0, 1, 0]
    decided.append(yes)  # the run's list grows; only the new entry is numbered
    assert table.numbers(np.array([2, 0]), decided).tolist() == [2, 0]
    kept = numbers.copy()
    kept[[0, 3]] = table.kept_out(numbers[[0, 3]])
    columns = table.columns(kept)
    rows = pa.table(columns, names=["allowed", "reasons", "rules", "policy_at_use",
                                    "policy_at_collection", "consents"]).to_pylist()  # fmt: skip
    assert [r["allowed"] for r in rows] == [False, False, True, False, True]
    assert rows[0]["reasons"] == [REGISTERED_CUSTOMER_CONTENT]
    assert rows[3] == {**rows[1], "reasons": [REGISTERED_CUSTOMER_CONTENT]}
    assert rows[3]["consents"] == ["c-1"]
    assert [d.tobytes() for d in table.digests(kept)] == [reference_decision(r) for r in rows]
    assert len(table) == 5  # yes, no, yes again, and each of the first two kept out once
