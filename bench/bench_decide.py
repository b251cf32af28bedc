"""Decisions per second: scalar decide, decide_batch with and without consent
lookups, cedarpy (parsed policies, dict ids) and a plain dict lookup (the floor).

Run: python bench/bench_decide.py [--records N]. Prints JSON; single core.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from _common import emit, median_seconds, single_core
from trainguard.decision.batch import decide_batch
from trainguard.decision.consent import ConsentEvent, Ledger
from trainguard.decision.decide import DecisionContext, PolicySet, Record, decide
from trainguard.decision.policy import evaluate_rules, load_policy_file
from trainguard.demo.run import copy_policy_files

CATEGORIES = [
    "customer.chat",
    "customer.audio",
    "customer.video",
    "customer.whiteboard",
    "customer.transcript",
    "service.telemetry",
    "service.usage",
]


def build(n: int, seed: int = 1) -> tuple[DecisionContext, pa.Table]:
    folder = Path(tempfile.mkdtemp())
    versions = [load_policy_file(f) for f in copy_policy_files(folder)]
    ps = PolicySet(versions, default_family="meetco-terms")
    v2 = ps.resolve("2023-08-07").hash
    v3 = ps.resolve("2023-08-11").hash
    v4 = ps.resolve("2024-01-01-hypothetical").hash
    rng = random.Random(seed)
    tenants = [f"tenant-{i}" for i in range(200)]
    events = []
    for i, tenant in enumerate(tenants):
        if i % 2 == 0:
            events.append(
                ConsentEvent(
                    tenant=tenant,
                    kind="grant",
                    subject=f"admin-{i}",
                    role="account_admin",
                    categories=("customer.*",),
                    uses=("train.*", "infer.feature"),
                    mode="implied",
                    policy_version=v2,
                    at=datetime(2023, 8, 8, tzinfo=UTC),
                )
            )
        if i % 3 == 0:
            events.append(
                ConsentEvent(
                    tenant=tenant,
                    kind="grant",
                    subject=f"admin-{i}",
                    role="account_admin",
                    categories=("customer.*",),
                    uses=("infer.feature",),
                    mode="implied",
                    policy_version=v3,
                    at=datetime(2023, 8, 12, tzinfo=UTC),
                )
            )
        for s in range(5):
            if rng.random() < 0.6:
                events.append(
                    ConsentEvent(
                        tenant=tenant,
                        kind="grant",
                        subject=f"{tenant}-user-{s}",
                        role="self",
                        categories=("customer.*",),
                        uses=("train.*",),
                        mode="explicit",
                        policy_version=v4,
                        at=datetime(2024, 1, 2, tzinfo=UTC),
                    )
                )
    ctx = DecisionContext(ps, Ledger(events))
    start = datetime(2023, 4, 1, tzinfo=UTC)
    # Records come in meetings: segments of one meeting share tenant, time and participants.
    ids, ten, cats, coll, subs = [], [], [], [], []
    i = 0
    while i < n:
        tenant = rng.choice(tenants)
        when = start + timedelta(minutes=rng.randrange(60 * 24 * 400))
        people = [f"{tenant}-user-{rng.randrange(5)}" for _ in range(rng.randrange(1, 4))]
        for _ in range(min(rng.randrange(20, 200), n - i)):
            ids.append(f"r{i}")
            ten.append(tenant)
            cats.append(rng.choice(CATEGORIES))
            coll.append(when)
            subs.append(people)
            i += 1
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "tenant": pa.array(ten, pa.string()),
            "category": pa.array(cats, pa.string()),
            "collected_at": pa.array(coll, pa.timestamp("us", tz="UTC")),
            "subjects": pa.array(subs, pa.list_(pa.string())),
        }
    )
    return ctx, table


def cedar_rate(ctx: DecisionContext, table: pa.Table, use: str, sample: int) -> float | None:
    try:
        import cedarpy
    except ImportError:
        return None
    # One version (v3) translated to Cedar, parsed once; entities with the hierarchy.
    version = ctx.policies.resolve("2023-08-11").version
    parts = []
    for r in version.rules:
        acts = ", ".join(f'Action::"{u}"' for u in r.uses)
        cond = " || ".join(f'resource in Category::"{c}"' for c in r.categories)
        head = f"(principal, action in [{acts}], resource) when {{ {cond} }}"
        if r.effect == "deny":
            parts.append(f"forbid{head};")
        elif r.effect == "allow":
            parts.append(f"permit{head};")
        else:
            parts.append(f"forbid{head} unless {{ context.consent }};")
            parts.append(f"permit{head};")
    policies = cedarpy.PolicySet.from_str("\n".join(parts))
    ents = []
    for etype, keys in (
        ("Category", list(ctx.taxonomy.categories)),
        ("Action", list(ctx.taxonomy.uses)),
    ):
        groups = sorted({k.split(".")[0] + ".*" for k in keys} | {"*"})
        for g in groups:
            ents.append(
                {
                    "uid": {"type": etype, "id": g},
                    "attrs": {},
                    "parents": [] if g == "*" else [{"type": etype, "id": "*"}],
                }
            )
        for k in keys:
            ents.append(
                {
                    "uid": {"type": etype, "id": k},
                    "attrs": {},
                    "parents": [
                        {"type": etype, "id": k.split(".")[0] + ".*"},
                        {"type": etype, "id": "*"},
                    ],
                }
            )
    entities = cedarpy.Entities.from_json_str(json.dumps(ents))
    cats = table.column("category").to_pylist()[:sample]
    requests = [
        {
            "principal": {"type": "User", "id": "u"},
            "action": {"type": "Action", "id": use},
            "resource": {"type": "Category", "id": c},
            "context": {"consent": False},
        }
        for c in cats
    ]

    def run() -> None:
        cedarpy.is_authorized_batch(requests, policies, entities)

    return sample / median_seconds(run, repeat=3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=20_000, help="records for the slow paths")
    args = parser.parse_args()
    single_core()
    ctx, table = build(args.records)
    n = table.num_rows

    # Floor: a dict lookup per record, answers precomputed.
    v3 = ctx.policies.resolve("2023-08-11").version
    answers = {
        (t, c): evaluate_rules(v3, c, "train.first_party").effect == "allow"
        for t in set(table.column("tenant").to_pylist())
        for c in CATEGORIES
    }
    keys = list(
        zip(table.column("tenant").to_pylist(), table.column("category").to_pylist(), strict=True)
    )

    def floor() -> None:
        get = answers.__getitem__
        for k in keys:
            get(k)

    floor_rate = n / median_seconds(floor)

    cases = {
        # No consent anywhere: v1 for content collected and used before 2023-08-07.
        "batch_no_consent": ("train.first_party", datetime(2023, 8, 6, tzinfo=UTC)),
        # Admin consent lookups (v2 audio/video/chat; v3 AI features).
        "batch_admin_consent": ("infer.feature", datetime(2023, 12, 31, tzinfo=UTC)),
        # Per-subject explicit consent (v4): the ledger is consulted per participant set.
        "batch_every_subject_consent": ("train.first_party", datetime(2025, 6, 1, tzinfo=UTC)),
    }
    results: dict[str, dict[str, float]] = {}
    for name, (use, at) in cases.items():
        seconds = median_seconds(lambda use=use, at=at: decide_batch(ctx, table, use, at), repeat=5)
        results[name] = {"records_per_s": n / seconds, "median_s": seconds}

    sample = table.slice(0, args.sample).to_pylist()
    recs = [
        Record(r["id"], r["tenant"], (r["category"],), r["collected_at"], tuple(r["subjects"]))
        for r in sample
    ]
    at = datetime(2023, 12, 31, tzinfo=UTC)

    def scalar() -> None:
        for r in recs:
            decide(ctx, r, "infer.feature", at)

    scalar_rate = len(recs) / median_seconds(scalar, repeat=3)
    cedar = cedar_rate(ctx, table, "train.first_party", args.sample)

    best_consent = results["batch_admin_consent"]["records_per_s"]
    emit(
        "decide",
        {
            "records": n,
            "single_core": True,
            "floor_dict_lookup_per_s": floor_rate,
            "scalar_decide_per_s": scalar_rate,
            "cedarpy_per_s": cedar,
            **{f"{k}_per_s": v["records_per_s"] for k, v in results.items()},
            "ratios": {
                "batch_no_consent_vs_cedarpy": results["batch_no_consent"]["records_per_s"] / cedar
                if cedar
                else None,
                "batch_admin_consent_vs_cedarpy": best_consent / cedar if cedar else None,
                "scalar_decide_vs_cedarpy": scalar_rate / cedar if cedar else None,
                "batch_no_consent_vs_floor": results["batch_no_consent"]["records_per_s"]
                / floor_rate,
            },
            "goals": {
                "batch_no_consent_per_s": 5_000_000,
                "batch_with_consent_per_s": 1_000_000,
                "vs_cedarpy": 100,
            },
        },
    )


if __name__ == "__main__":
    main()
