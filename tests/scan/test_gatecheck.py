"""The gate's registry check flags exactly the records a scan of each alone would."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

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


def test_several_columns_turns_and_text_that_is_not_utf8(
    meetings: dict[str, str], registered: Registry
) -> None:
    _, fragment = pick(meetings, registered, random.Random(12), 30)
    raw = pa.array([b"cpu=3", b"broken \xff\xfe " + fragment.encode(), b"ok"], pa.binary())
    notes = pa.Array.from_buffers(pa.string(), 3, raw.buffers())  # as a Parquet file may hold
    turns = pa.array([[], [], [{"speaker": "A", "content": fragment}]])
    batch = pa.RecordBatch.from_arrays([notes, turns], names=["notes", "turns"])
    # Undecodable bytes are read as replacement characters; the fragment is still found.
    assert _check(registered)(batch, ["notes", "turns"]).tolist() == [False, True, True]
    assert _check(registered)(batch.select(["notes"]), ["notes"]).tolist() == [False, True, False]
    assert np.all(~_check(registered)(batch.slice(0, 1), ["notes"]))
