"""`trainguard.explain` is the module; the function that puts a decision into words is
`trainguard.explain_decision`, and importing the module does not shadow it."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from pathlib import Path

import trainguard
import trainguard.explain
from trainguard.decision.policy import load_policy_file
from trainguard.store import Store


def test_the_module_and_the_function_live_side_by_side(
    store: Store, policy_files: dict[str, Path]
) -> None:
    assert isinstance(trainguard.explain, types.ModuleType)
    assert "explain" not in trainguard.__all__ and "explain_decision" in trainguard.__all__
    store.add_policies([(load_policy_file(policy_files["v1"]), "v1")])
    store.assign_tenant("acme", "meetco-terms")
    record = trainguard.Record(
        "c1", "acme", ("customer.chat",), datetime(2023, 5, 1, tzinfo=UTC), ("bob",)
    )
    decision = trainguard.decide(
        store.context(), record, "train.first_party", datetime(2023, 6, 1, tzinfo=UTC)
    )
    lines = trainguard.explain_decision(decision)
    assert lines[0] == (
        "ALLOWED: train.first_party on customer.chat (tenant acme) at 2023-06-01T00:00:00Z"
    )
