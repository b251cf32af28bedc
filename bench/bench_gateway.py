"""The inference gateway on a 1-hour meeting, on one core.

The meeting is Bro003 from tests/data (an ICSI research meeting of about an
hour: 1,009 turns, 18,751 words) as one transcript record, plus 60 chat
messages of the meeting's channel as records of their own (61 decisions and
access checks a request). Each request goes the whole way in process: the
provider check, a decision per record at request time, the reference ACL,
the feature, and the audit entry appended to a SQLite store.

Side by side in one run:
- **gateway**: requests per second and p50/p99 latency of a summary and of a
  question through ``serve_feature``;
- **feature alone** (the peer): the same feature on the same sources, called
  directly — no decisions, access check or audit entry;
- **embedding alone** (the floor): embedding the meeting's turns, which any
  feature over the meeting must do;
- the **decisions** and the **access check** for the same records, timed
  alone, as a share of a gateway request; likewise reading the records and
  appending an audit entry of the same shape.

Run: python bench/bench_gateway.py [--requests 60]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import emit, single_core
from trainguard.app.gateway import serve_feature
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import decide
from trainguard.demo.run import copy_policy_files
from trainguard.gateway import GatewayRequest, InMemoryAcl, Providers, parse_sources
from trainguard.gateway.embed import embed
from trainguard.gateway.features import answer, clean, summarize
from trainguard.store import Store

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "qmsum-sample.jsonl.gz"
MEETING = "Bro003"
AT = "2023-09-01T10:00:00Z"
QUESTION = "What did they decide about the noise and the features for the recognizer?"


def records() -> list[dict[str, Any]]:
    with gzip.open(DATA, "rt") as f:
        meetings = {m["meeting_id"]: m for m in map(json.loads, f)}
    turns = meetings[MEETING]["turns"]
    out: list[dict[str, Any]] = [
        {
            "id": f"{MEETING}/transcript",
            "categories": ["customer.transcript"],
            "collected_at": "2023-08-20T09:00:00Z",
            "subjects": ["alice", "bob"],
            "container": f"meeting:{MEETING}",
            "turns": [{"speaker": t["speaker"], "text": t["content"]} for t in turns],
        }
    ]
    chat = [t for t in meetings["Bro007"]["turns"] if len(t["content"].split()) > 6][:60]
    for i, t in enumerate(chat):
        out.append(
            {
                "id": f"{MEETING}/chat-{i}",
                "categories": ["customer.chat"],
                "collected_at": "2023-08-20T09:30:00Z",
                "subjects": ["alice"],
                "container": f"channel:{MEETING}",
                "text": t["content"],
            }
        )
    return out


def store_at(folder: Path) -> Store:
    store = Store(str(folder / "bench.db"))
    store.init()
    from trainguard.decision.policy import load_policy_file

    files = copy_policy_files(folder)
    store.add_policies(
        [(load_policy_file(f), str(f)) for f in files if "hypothetical" not in f.name]
    )
    store.assign_tenant("acme", "meetco-terms")
    v3 = store.policy_set().resolve("meetco-terms@2023-08-11").hash
    store.add_consent_events(
        [
            ConsentEvent(
                tenant="acme", kind="grant", subject="root-admin", role="account_admin",
                categories=("customer.*",), uses=("infer.feature",), mode="implied",
                policy_version=v3, at=datetime(2023, 8, 12, tzinfo=UTC),
            )
        ]
    )  # fmt: skip
    return store


def timed(fn: Any, n: int) -> list[float]:
    fn()  # warm-up (model load, first compilation)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def interleaved(a: Any, b: Any, n: int) -> tuple[list[float], list[float]]:
    a(), b()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for fn, out in ((a, times[0]), (b, times[1])):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
    return times


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "per_s": round(1 / statistics.mean(times), 2),
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=60)
    n = parser.parse_args().requests
    single_core()
    raw = records()
    acl = InMemoryAcl()
    acl.allow("acme", f"meeting:{MEETING}", ["alice", "bob"])
    acl.allow("acme", f"channel:{MEETING}", ["*"])
    with tempfile.TemporaryDirectory() as tmp:
        store = store_at(Path(tmp))
        ctx = store.context()
        providers = Providers()

        def via_gateway(feature: str, question: str | None) -> None:
            request = GatewayRequest("acme", "alice", feature, "infer.feature", "local")
            serve_feature(ctx, store.audit.record, acl, providers, request, raw, question, AT)

        sources = parse_sources(raw, "acme", "records")
        when = datetime(2023, 9, 1, 10, tzinfo=UTC)
        turn_texts = [clean(s.text) for src in sources for s in src.segments]
        results: dict[str, Any] = {
            "meeting": MEETING,
            "records": len(raw),
            "turns": sum(len(s.segments) for s in sources),
            "words": sum(len(t.split()) for t in turn_texts),
            "requests": n,
        }
        # Interleaved, so that the load of a shared machine falls on both alike.
        gateway: dict[str, list[float]] = {}
        alone: dict[str, list[float]] = {}
        for feature, question in (("summary", None), ("question", QUESTION)):
            gateway[feature], alone[feature] = interleaved(
                lambda f=feature, q=question: via_gateway(f, q),  # type: ignore[misc]
                lambda q=question: summarize(sources) if q is None else answer(sources, q),  # type: ignore[misc]
                n,
            )
        floor = timed(lambda: embed(turn_texts), n)
        decisions = timed(
            lambda: [decide(ctx, s.record, "infer.feature", when) for s in sources], n
        )
        access = timed(
            lambda: acl.visible("acme", "alice", [(s.id, s.container) for s in sources]), n
        )
        parse = timed(lambda: parse_sources(raw, "acme", "records"), n)
        sample = {"tenant": "acme", "records": [{"id": s.id, "allowed": True} for s in sources]}
        audit = timed(lambda: store.audit.record("gateway.request", sample), n)
        store.engine.dispose()
    for feature in ("summary", "question"):
        mean = statistics.mean(gateway[feature])
        results[feature] = {
            "gateway": figures(gateway[feature]),
            "feature_alone": figures(alone[feature]),
            "gateway_over_feature": round(mean / statistics.mean(alone[feature]), 3),
            "decisions_share": round(statistics.mean(decisions) / mean, 4),
            "access_check_share": round(statistics.mean(access) / mean, 5),
            "parse_records_share": round(statistics.mean(parse) / mean, 4),
            "audit_entry_share": round(statistics.mean(audit) / mean, 4),
        }
    results["embedding_floor"] = figures(floor)
    results["decisions_61_records_ms"] = round(statistics.median(decisions) * 1000, 3)
    results["access_check_61_records_ms"] = round(statistics.median(access) * 1000, 4)
    emit("gateway", results)


if __name__ == "__main__":
    main()
