"""The gate's registry check flags exactly the records a scan of each alone would."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from trainguard.gate.core import UnscannableContent
from trainguard.scan import Matcher, Registry
from trainguard.scan.gatecheck import RegistryCheck

from .test_matcher import FILLER, pick


def _check(registry: Registry) -> RegistryCheck:
    return RegistryCheck(str(registry.path), str(registry.keys.path))


def test_one_text_column_is_checked_straight_from_arrow(
    meetings: dict[str, str], registered: Registry
) -> None:
    rng = random.Random(11)
    texts: list[str | None] = []
    for k in range(40):
        _, fragment = pick(meetings, registered, rng, 25)
        texts.append(FILLER + (" " + fragment if k % 3 == 0 else ""))
    texts[5] = None
    batch = pa.RecordBatch.from_pydict({"payload": pa.array(texts, pa.string())})
    flagged = _check(registered)(batch, ["payload"])
    matcher = Matcher(registered)
    assert flagged.tolist() == [bool(t and matcher.scan(t)[0]) for t in texts]
    assert flagged.tolist() == [k % 3 == 0 for k in range(40)]  # the planted ones, no other


def test_several_columns_turns_and_values_of_any_type_are_scanned(
    meetings: dict[str, str], registered: Registry
) -> None:
    _, fragment = pick(meetings, registered, random.Random(12), 30)
    notes = pa.array(["cpu=3", "ok", "ok", "ok"], pa.string())
    turns = pa.array([[], [{"speaker": "A", "content": fragment}], [], []])
    blobs = pa.array([b"\x00", b"", fragment.encode(), b""], pa.binary())
    nested = pa.array([None, None, None, {"body": {"text": fragment}}])
    batch = pa.RecordBatch.from_arrays(
        [notes, turns, blobs, nested], names=["notes", "turns", "blobs", "nested"]
    )
    columns = ["notes", "turns", "blobs", "nested"]
    assert _check(registered)(batch, columns).tolist() == [False, True, True, True]
    assert np.all(~_check(registered)(batch.slice(0, 1), ["notes"]))


@pytest.mark.parametrize("kind", [pa.string(), pa.binary()])
def test_a_value_that_is_not_utf8_is_refused_not_admitted_unscanned(
    meetings: dict[str, str], registered: Registry, kind: pa.DataType
) -> None:
    """One bad byte every few words would break every window the scanner looks up:
    such a value cannot be checked, so the check refuses it and names its row."""
    _, fragment = pick(meetings, registered, random.Random(12), 30)
    spoiled = b" \xff ".join(w.encode() for w in fragment.split())
    raw = pa.array([b"cpu=3", spoiled], pa.binary())
    notes = pa.Array.from_buffers(kind, 2, raw.buffers())  # as a Parquet file may hold
    batch = pa.RecordBatch.from_arrays([notes, pa.array(["a", "b"])], names=["notes", "other"])
    for columns in (["notes"], ["notes", "other"]):
        with pytest.raises(UnscannableContent, match="'notes' is not valid UTF-8") as exc:
            _check(registered)(batch, columns)
        assert exc.value.row == 1
