"""A batch's answer rows are the decisions of ``decide_batch``, each as compact
JSON with sorted keys — assembled from the batch's distinct decisions, yet the
same bytes as serializing every row — and the logged root is the RFC 9162
root over those bytes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson

from trainguard.app.access import Principal
from trainguard.app.decisions import (
    BatchColumns,
    batch_table,
    decide_on_store,
    decision_rows,
    many,
    merkle_root,
)
from trainguard.audit.merkle import MerkleTree, leaf_hash
from trainguard.decision.batch import decide_batch
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Decision, Record
from trainguard.decision.policy import load_policy_file
from trainguard.store import Store
from trainguard.timeutil import parse_instant

from ..http.conftest import grant


def records() -> BatchColumns:
    n = 60
    return BatchColumns(
        id=[f"r{i}" if i % 7 else f'réunion "{i}" \u2028' for i in range(n)],
        categories=[
            ["customer.chat"] if i % 3 else ["service.telemetry", "customer.chat"] for i in range(n)
        ],
        collected_at=["2023-05-01", "2023-08-10T12:00:00Z", "2024-01-01"][:1] * (n - 2)
        + ["2023-08-10T12:00:00+02:00", "2030-01-01"],
        subjects=[[f"p{i % 4}"] if i % 2 else [] for i in range(n)],
    )


def test_rows_are_the_bytes_of_each_decide_batch_row_with_sorted_keys(
    timeline_store: Store,
) -> None:
    v2 = timeline_store.policy_set().resolve("meetco-terms@2023-08-07").hash
    timeline_store.add_consent_events(
        [ConsentEvent.model_validate({**grant(tenant="acme"), "policy_version": v2})]
    )
    ctx = timeline_store.context()
    at = parse_instant("2023-08-09", "at")
    table = batch_table("acme", records())
    rows, allowed = decision_rows(ctx, table, "train.first_party", at)
    expected = [
        orjson.dumps(r, option=orjson.OPT_SORT_KEYS)
        for r in decide_batch(ctx, table, "train.first_party", at).to_pylist()
    ]
    assert rows == expected
    assert allowed == sum(1 for r in expected if orjson.loads(r)["allowed"])
    assert 0 < allowed < len(rows)  # both answers are in the batch


def test_the_logged_root_is_the_root_over_the_answered_rows(timeline_store: Store) -> None:
    ctx = timeline_store.context()
    at = parse_instant("2023-08-09", "at")
    prepared = many(ctx, "acme", "train.first_party", at, records())
    [(kind, summary)] = prepared.entries
    answer = prepared.answer([41])
    body = orjson.loads(answer.to_bytes())
    rows = [orjson.dumps(d, option=orjson.OPT_SORT_KEYS) for d in body["decisions"]]
    tree = MerkleTree()
    tree.extend(leaf_hash(r) for r in rows)
    assert kind == "decision.batch" and body["audit_index"] == 41
    assert summary["root"] == tree.root().hex() == merkle_root(rows).hex()
    assert body["records"] == len(rows) == 60


OTHER_TERMS = """
family: other-terms
version: "1"
effective_at: 2023-01-01T00:00:00Z
title: Analytics only
default: deny
rules:
  - id: analytics
    categories: ["*"]
    uses: ["analytics.product"]
    effect: allow
"""


def test_a_decision_is_logged_right_after_the_state_it_was_made_on(
    any_store: Store, policy_files: dict[str, Path], tmp_path: Path
) -> None:
    """Another writer assigns initech a family while a decision for initech waits for
    the log's append lock: the decision, logged right after the assignment, is made
    under it. (It once read its context before waiting, and was logged after a change
    it never saw.)"""
    from sqlalchemy import insert

    from trainguard.store import schema as t

    other = tmp_path / "other.yaml"
    other.write_text(OTHER_TERMS)
    files = [policy_files["v3"], other]
    any_store.add_policies([(load_policy_file(f), str(f)) for f in files])
    any_store.set_default_family("other-terms")
    record = Record("r", "initech", ("customer.chat",), datetime(2023, 9, 1, tzinfo=UTC))
    done: list[tuple[Decision, int]] = []
    decider = threading.Thread(
        target=lambda: done.append(
            decide_on_store(Principal.local(), any_store, record, "analytics.product", None)
        )
    )
    with any_store.write() as conn:  # the assignment, as the store writes it
        any_store.audit.lock(conn)
        conn.execute(insert(t.tenant_families).values(tenant="initech", family="meetco-terms"))
        entry = {"tenant": "initech", "family": "meetco-terms"}
        assigned = any_store.audit.append(conn, "tenant.family", entry)
        decider.start()
        decider.join(timeout=0.5)  # it waits on the lock this transaction holds
    decider.join()
    decision, index = done[0]
    assert index == assigned + 1
    assert decision.to_json()["policy_at_use"]["family"] == "meetco-terms"
    report = any_store.audit.verify()
    assert report.ok, report.problem
