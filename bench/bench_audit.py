"""Audit log throughput: appends/s by batch size (SQLite, PostgreSQL), proofs
generated and verified per second, full verification in entries/s — against
the floor of canonicalizing and hashing the same entries with no storage.

The state section times verification of a log with its state tables (one
entry in ten a consent event, with its row; the others real decisions, which
the state check makes again) with and without the state check,
and appends of consent entries carrying what the state check needs beside
plain appends of the same entries.

Run: python bench/bench_audit.py [--entries N] [--state-entries N] [--only-state] [--pg URL].
Prints JSON; single core.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import emit, single_core
from trainguard.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from trainguard.audit.note import Signer
from trainguard.canonical import canonical_json_many
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import DecisionContext, Record, decide
from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.store import Store
from trainguard.timeutil import now_utc


def entry(i: int) -> tuple[str, dict[str, Any]]:
    # Shaped like a consent event, but of a kind that sets no state: these stores
    # have no consent rows, and `verify` would rightly report every one missing.
    return (
        "bench.event",
        {
            "id": f"ce_{i:024x}",
            "tenant": f"tenant-{i % 97}",
            "subject": f"user-{i}",
            "categories": ["customer.*"],
            "uses": ["train.*"],
            "mode": "explicit",
            "at": "2023-08-08T10:00:00Z",
        },
    )


def appends(store: Store, batch: int, entries: list[tuple[str, dict[str, Any]]]) -> float:
    """Entries are built beforehand: what is timed is the log's work, not the caller's."""
    start = time.perf_counter()
    for b in range(0, len(entries), batch):
        store.audit.record_many(entries[b : b + batch])
    return len(entries) / (time.perf_counter() - start)


def pg_store(url: str) -> Store | None:
    try:
        import uuid

        from sqlalchemy import create_engine, text

        from trainguard.store.store import resolve_url

        schema = f"tg_bench_{uuid.uuid4().hex[:8]}"
        u = resolve_url(url)
        with create_engine(u).begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        store = Store(
            u, engine=create_engine(u, connect_args={"options": f"-csearch_path={schema}"})
        )
        store.init()
        return store
    except Exception as exc:  # the benchmark reports what it could not measure
        print(f"# PostgreSQL skipped: {exc}")
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument(
        "--state-entries",
        type=int,
        default=200_000,
        help="size of the log for the state section (one in ten a consent event)",
    )
    parser.add_argument("--only-state", action="store_true", help="run the state section alone")
    parser.add_argument("--pg", default=os.environ.get("TRAINGUARD_TEST_DATABASE_URL"))
    args = parser.parse_args()
    single_core()
    if args.only_state:
        emit("audit", {"state": state_section(args.state_entries, Path(tempfile.mkdtemp()))})
        return
    out: dict[str, Any] = {"entries": args.entries}

    entries = [entry(i) for i in range(args.entries)]
    canonical_json_many([{"warm": "up"}])  # the numba check compiles (or loads) once
    start = time.perf_counter()
    for b in range(0, args.entries, 1000):
        bodies = canonical_json_many(
            [
                {"index": b + i, "kind": kind, "at": "2026-01-01T00:00:00Z", "data": data}
                for i, (kind, data) in enumerate(entries[b : b + 1000])
            ]
        )
        for body in bodies:
            leaf_hash(body)
    out["floor_canonicalize_and_hash_per_s"] = args.entries / (time.perf_counter() - start)

    backends: dict[str, Store] = {}
    tmp = Path(tempfile.mkdtemp())
    for batch in (1, 100, 1000):
        total = min(args.entries, 2000) if batch == 1 else args.entries
        sqlite = Store(str(tmp / f"b{batch}.db"))
        sqlite.init()
        out[f"sqlite_appends_per_s_batch_{batch}"] = appends(sqlite, batch, entries[:total])
        backends["sqlite"] = sqlite
        if args.pg:
            pg = pg_store(args.pg)
            if pg is not None:
                out[f"postgres_appends_per_s_batch_{batch}"] = appends(
                    pg, batch, entries[: min(total, 20_000)]
                )

    store = backends["sqlite"]
    tree = store.audit.tree()
    n = tree.size
    rng = random.Random(1)
    root = tree.root()
    picks = [rng.randrange(n) for _ in range(20_000)]
    start = time.perf_counter()
    proofs = [tree.inclusion_proof(i, n) for i in picks]
    out["inclusion_proofs_generated_per_s"] = len(picks) / (time.perf_counter() - start)
    start = time.perf_counter()
    for i, p in zip(picks, proofs, strict=True):
        assert verify_inclusion(tree.levels[0][i], i, n, p, root)
    out["inclusion_proofs_verified_per_s"] = len(picks) / (time.perf_counter() - start)
    olds = [rng.randrange(1, n) for _ in range(5_000)]
    start = time.perf_counter()
    cons = [tree.consistency_proof(m, n) for m in olds]
    out["consistency_proofs_generated_per_s"] = len(olds) / (time.perf_counter() - start)
    start = time.perf_counter()
    for m, p in zip(olds, cons, strict=True):
        assert verify_consistency(m, n, p, tree.root(m), root)
    out["consistency_proofs_verified_per_s"] = len(olds) / (time.perf_counter() - start)

    signer = Signer.generate("bench")
    store.audit.checkpoint(signer)
    start = time.perf_counter()
    report = store.audit.verify(signer.verifier)
    assert report.ok
    # The first run in a process also loads the compiled loops (numba set-up).
    out["full_verify_cold_entries_per_s"] = report.size / (time.perf_counter() - start)
    start = time.perf_counter()
    report = store.audit.verify(signer.verifier)
    assert report.ok
    out["full_verify_entries_per_s"] = report.size / (time.perf_counter() - start)
    out["state"] = state_section(args.state_entries, tmp)
    out["goals"] = {
        "sqlite_appends_per_s_batch_1000": 50_000,
        "inclusion_proofs_per_s": 10_000,
        "full_verify_entries_per_s": 500_000,
        "state_verify_entries_per_s": 400_000,
        "state_append_cost_max": 0.15,
    }
    out["ratios"] = {
        "sqlite_batch_1000_vs_floor": out["sqlite_appends_per_s_batch_1000"]
        / out["floor_canonicalize_and_hash_per_s"]
    }
    emit("audit", out)


# --- the state check ---------------------------------------------------------------------

_EPOCH = datetime(2023, 8, 8, tzinfo=UTC)


def consent_events(start: int, n: int, policy: str) -> list[ConsentEvent]:
    return [
        ConsentEvent(
            tenant=f"tenant-{i % 97}",
            kind="withdraw" if i % 5 == 4 else "grant",
            subject=f"user-{i}",
            role="self",
            categories=("customer.*",),
            uses=("train.*",),
            mode=None if i % 5 == 4 else "explicit",
            policy_version=policy,
            at=_EPOCH + timedelta(seconds=i),
        )
        for i in range(start, start + n)
    ]


def decisions(
    ctx: DecisionContext, start: int, n: int, granted: int
) -> list[tuple[str, dict[str, Any]]]:
    """Real decisions, as the store logs them: made under the context the store had
    when they were logged (verify makes each again). Half name a subject whose consent may be on
    record; uses and times vary, as a service's traffic does."""
    uses = ("train.first_party", "infer.feature", "analytics.product")
    out = []
    for i in range(start, start + n):
        subjects = (f"user-{i % max(granted, 1)}",) if i % 2 else ()
        record = Record(f"rec-{i}", f"tenant-{i % 97}", ("customer.chat",), _EPOCH, subjects)
        at = _EPOCH + timedelta(days=1 + i % 9, seconds=i)
        out.append(("decision", decide(ctx, record, uses[i % 3], at).to_json()))
    return out


def state_store(path: Path, entries: int) -> Store:
    """A log of ``entries`` entries in batches of 1,000; every tenth batch is consent
    events, the others decisions."""
    store = Store(str(path))
    store.init()
    files = copy_policy_files(path.parent)
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    store.set_default_family("meetco-terms")
    policy = store.policy_set().resolve("2023-08-07").hash
    consent = 0
    for b in range(entries // 1000):
        if b % 10 == 0:
            # Withdrawals of subjects never granted: only their rows matter here.
            store.add_consent_events(consent_events(consent, 1000, policy), allow_unmatched=True)
            consent += 1000
            ctx = store.context()  # the state changed: decide under the new one
        else:
            store.audit.record_many(decisions(ctx, b * 1000, 1000, consent))
    return store


def state_section(entries: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / "state"
    folder.mkdir()
    start = time.perf_counter()
    store = state_store(folder / "state.db", entries)
    out: dict[str, Any] = {
        "entries": store.audit.size(),
        "consent_events": len(store.consent_events()),
        "build_seconds": time.perf_counter() - start,
    }
    store.audit.verify(None)  # the first run in a process loads the compiled loops
    # Wall-clock and CPU time both: on a shared machine the wall clock also counts
    # the time spent waiting for a core, the CPU time does not.
    wall: dict[bool, list[float]] = {False: [], True: []}
    cpu: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(5):  # alternated, so drift on a shared machine hits both alike
        for state in (False, True):
            start, start_cpu = time.perf_counter(), time.process_time()
            report = store.audit.verify(None, state=state)
            wall[state].append(time.perf_counter() - start)
            cpu[state].append(time.process_time() - start_cpu)
            assert report.ok, report.problem
    out["decisions_made_again"] = getattr(report, "redecided", None)
    size = out["entries"]
    for clock, times in (("", wall), ("_cpu", cpu)):
        without = size / statistics.median(times[False])
        with_state = size / statistics.median(times[True])
        out[f"verify_without_state_entries_per_s{clock}"] = without
        out[f"verify_with_state_entries_per_s{clock}"] = with_state
        out[f"verify_state_vs_floor{clock}"] = with_state / without
    out.update(append_costs(folder))
    return out


def append_costs(folder: Path, rounds: int = 30) -> dict[str, Any]:
    """Appends at batch 1,000 of consent entries exactly as a consent import logs them.

    "plain": ``record_many`` (the log's own time). "state": as the store appends
    them, stamped with the time it also writes into the rows. "import": consent
    events end to end through the store (validation, rows and entries), for context.
    """
    plain_store = Store(str(folder / "plain.db"))
    plain_store.init()
    state_store_ = Store(str(folder / "state-appends.db"))
    state_store_.init()
    import_store = Store(str(folder / "import.db"))
    import_store.init()
    (folder / "import-policies").mkdir()
    files = copy_policy_files(folder / "import-policies")
    import_store.add_policies([(load_policy_file(f), str(f)) for f in files])
    policy = import_store.policy_set().resolve("2023-08-07").hash
    timed: dict[str, list[tuple[float, float]]] = {"plain": [], "state": [], "import": []}

    def plain(items: list[tuple[str, dict[str, Any]]], _: list[ConsentEvent]) -> None:
        plain_store.audit.record_many(items)

    def state(items: list[tuple[str, dict[str, Any]]], _: list[ConsentEvent]) -> None:
        with state_store_.write() as conn:
            state_store_.audit.append_many(conn, items, at=now_utc())

    def imported(_: list[tuple[str, dict[str, Any]]], events: list[ConsentEvent]) -> None:
        import_store.add_consent_events(events, allow_unmatched=True)

    steps = [("plain", plain), ("state", state), ("import", imported)]
    for r in range(rounds):
        events = consent_events(r * 1000, 1000, policy)
        items = [("consent." + e.kind, {"id": e.event_id, **e.canonical()}) for e in events]
        for name, step in steps if r % 2 == 0 else steps[::-1]:  # neither always goes first
            start, start_cpu = time.perf_counter(), time.process_time()
            step(items, events)
            timed[name].append((time.perf_counter() - start, time.process_time() - start_cpu))
    out: dict[str, float] = {}
    for clock, which in (("", 0), ("_cpu", 1)):
        rate = {k: 1000 / statistics.median(t[which] for t in v) for k, v in timed.items()}
        out[f"appends_plain_per_s_batch_1000{clock}"] = rate["plain"]
        out[f"appends_state_per_s_batch_1000{clock}"] = rate["state"]
        out[f"consent_import_per_s_batch_1000{clock}"] = rate["import"]
        out[f"append_state_cost{clock}"] = rate["plain"] / rate["state"] - 1
    return out


if __name__ == "__main__":
    main()
