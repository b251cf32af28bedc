"""What signing as you go costs: a checkpoint after each batch append, after each
CLI write, and a checkpoint on a big log from a fresh process (stored frontier)
against rebuilding the tree from every leaf (what checkpointing did before).

Run: python bench/bench_checkpoint.py [--entries N] [--pg URL] [--cli-runs R].
Prints JSON; single core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, single_core
from bench_audit import entry, pg_store
from trainguard.audit.note import Signer
from trainguard.store import Store


def fill(store: Store, n: int) -> None:
    for start in range(0, n, 10_000):
        store.audit.record_many([entry(i) for i in range(start, min(n, start + 10_000))])


def batches(store: Store, signer: Signer, batch: int, rounds: int) -> dict[str, float]:
    """Median ms per batch append, without and with a checkpoint after each."""
    items = [entry(i) for i in range(batch)]
    plain, signed = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        store.audit.record_many(items)
        plain.append(time.perf_counter() - start)
        store.audit.checkpoint(signer)  # both kinds of round start from a signed head
        start = time.perf_counter()
        store.audit.record_many(items)
        store.audit.checkpoint_if_due(signer)
        signed.append(time.perf_counter() - start)
    p, s = statistics.median(plain) * 1e3, statistics.median(signed) * 1e3
    return {
        "append_ms": round(p, 2),
        "append_and_checkpoint_ms": round(s, 2),
        "checkpoint_ms": round(s - p, 2),
    }


def fresh_process_checkpoint(url: str, signer: Signer) -> dict[str, float]:
    """A new Store (as every CLI process has): checkpoint from the stored frontier,
    against loading every leaf into a tree to get the root."""
    store = Store(url)
    store.audit.record_many([entry(0)])
    start = time.perf_counter()
    store.audit.checkpoint(signer)
    frontier = time.perf_counter() - start
    store = Store(url)
    start = time.perf_counter()
    store.audit.tree().root()
    reread = time.perf_counter() - start
    return {
        "from_frontier_ms": round(frontier * 1e3, 2),
        "rereading_every_leaf_ms": round(reread * 1e3, 2),
    }


def cli_writes(db: str, key: Path, runs: int) -> dict[str, float]:
    """Median ms of `trainguard audit append` run in-process (interpreter start-up and
    imports left out: they are the same either way), without and with the key configured."""
    from typer.testing import CliRunner

    from trainguard.cli import app

    runner = CliRunner()
    args = ["--db", db, "audit", "append", "bench.cli", "{}"]
    out: dict[str, list[float]] = {"no_key": [], "key": []}
    for _ in range(runs):
        for mode in ("no_key", "key"):
            env = {"TRAINGUARD_AUDIT_KEY": str(key) if mode == "key" else "/nonexistent"}
            start = time.perf_counter()
            result = runner.invoke(app, args, env=env)
            out[mode].append(time.perf_counter() - start)
            assert result.exit_code == 0, result.output
    plain, signed = (statistics.median(out[m]) * 1e3 for m in ("no_key", "key"))
    return {
        "write_ms": round(plain, 1),
        "write_and_checkpoint_ms": round(signed, 1),
        "checkpoint_ms": round(signed - plain, 1),
    }


def drop_schema(store: Store) -> None:
    from sqlalchemy import text

    with store.engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    store.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--pg", default=os.environ.get("TRAINGUARD_TEST_DATABASE_URL"))
    parser.add_argument("--cli-runs", type=int, default=21)
    args = parser.parse_args()
    single_core()
    results: dict[str, Any] = {"entries": args.entries}
    with tempfile.TemporaryDirectory() as tmp:
        key_path = Path(tmp) / "bench.key"
        signer = Signer.generate("bench")
        signer.save(key_path)
        db = str(Path(tmp) / "bench.db")
        store = Store(db)
        store.init()
        store.audit.pin_key(signer, max_unsigned=10_000)
        fill(store, args.entries)
        store.audit.checkpoint(signer)
        results["sqlite_batch_1"] = batches(store, signer, 1, 50)
        results["sqlite_batch_1000"] = batches(store, signer, 1000, 20)
        results["sqlite_fresh_process"] = fresh_process_checkpoint(db, signer)
        results["sqlite_cli_write"] = cli_writes(db, key_path, args.cli_runs)
        if args.pg:
            pg = pg_store(args.pg)
            if pg is not None:
                pg.audit.pin_key(signer, max_unsigned=10_000)
                fill(pg, args.entries)
                pg.audit.checkpoint(signer)
                results["postgres_batch_1"] = batches(pg, signer, 1, 50)
                results["postgres_batch_1000"] = batches(pg, signer, 1000, 20)
                drop_schema(pg)
    emit("audit_checkpoint", results)


if __name__ == "__main__":
    main()
