"""A gate run's counts: pairs added batch by batch, spelled out once."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trainguard.decision.decide import CoreDecision
from trainguard.gate import counts as counts_module
from trainguard.gate.counts import PairCounts
from trainguard.gate.decisions import DecisionTable

_DECISIONS = [
    CoreDecision(True, ("ALLOWED_BY_RULE",), ("r1",), None, None, (), None),
    CoreDecision(False, ("CONSENT_WITHDRAWN", "DENIED_AT_USE"), ("r2",), None, None, (), None),
    CoreDecision(False, ("UNKNOWN_CATEGORY",), (), None, None, (), None),
]
_LABELS = ["customer.chat", "service.usage", "customer.audio+customer.chat"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)), max_size=30),
        max_size=5,
    ),
    st.booleans(),
)
def test_counts_are_each_records_category_set_allowed_and_reasons(
    batches: list[list[tuple[int, int]]], merge_often: bool
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        if merge_often:
            patch.setattr(counts_module, "_MERGE_AT", 1)
        table = DecisionTable()
        codes = np.arange(len(_DECISIONS))
        table.numbers(codes, _DECISIONS)
        pairs = PairCounts()
        expected: Counter[tuple[str, bool, str]] = Counter()
        for batch in batches:
            labels = np.array([label for label, _ in batch], np.int64)
            numbers = np.array([number for _, number in batch], np.int64)
            pairs.add(_LABELS, labels, numbers)
            for label, number in batch:
                d = _DECISIONS[number]
                for reason in d.reasons:
                    expected[(_LABELS[label], d.allowed, reason)] += 1
        got, hashes = pairs.take(table)
    assert got == expected
    assert hashes == set()
    assert pairs.take(table)[0] == Counter()  # taken: nothing left
