"""Audit log throughput: appends/s by batch size (SQLite, PostgreSQL), proofs
generated and verified per second, full verification in entries/s — against
the floor of canonicalizing and hashing the same entries with no storage.

Run: python bench/bench_audit.py [--entries N] [--pg URL]. Prints JSON; single core.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, single_core
from trainguard.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from trainguard.audit.note import Signer
from trainguard.canonical import canonical_json_many
from trainguard.store import Store


def entry(i: int) -> tuple[str, dict[str, Any]]:
    return (
        "consent.grant",
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
    parser.add_argument("--pg", default=os.environ.get("TRAINGUARD_TEST_DATABASE_URL"))
    args = parser.parse_args()
    single_core()
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
    out["goals"] = {
        "sqlite_appends_per_s_batch_1000": 50_000,
        "inclusion_proofs_per_s": 10_000,
        "full_verify_entries_per_s": 500_000,
    }
    out["ratios"] = {
        "sqlite_batch_1000_vs_floor": out["sqlite_appends_per_s_batch_1000"]
        / out["floor_canonicalize_and_hash_per_s"]
    }
    emit("audit", out)


if __name__ == "__main__":
    main()
