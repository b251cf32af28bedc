"""A batch's answer rows are the decisions of ``decide_batch``, each as compact
JSON with sorted keys — assembled from the batch's distinct decisions, yet the
same bytes as serializing every row — and the logged root is the RFC 9162
root over those bytes."""

from __future__ import annotations

import orjson

from trainguard.app.decisions import BatchColumns, batch_table, decision_rows, many, merkle_root
from trainguard.audit.merkle import MerkleTree, leaf_hash
from trainguard.decision.batch import decide_batch
from trainguard.decision.consent import ConsentEvent
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
