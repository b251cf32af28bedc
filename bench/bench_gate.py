"""Gate throughput, Parquet to Parquet with decisions and manifests (no scan),
against a plain pyarrow filter of the same rows (the floor) and a row-by-row
Python loop calling ``decide`` (the peer); peak memory as the input grows.

Run: python bench/bench_gate.py [--records N] [--memory-sizes A,B]
[--many-tenants T]. Prints JSON; single core. It also times, apart, the check
that refuses a repeated (tenant, id) (digests and their sort, in memory and
spilled to bucket files), which every gate run above includes. The records come from 100
tenants; the same number from T tenants (300,000 by default) is timed too.
The timed gate runs twice in a fresh process: the second run is the
throughput (the floor, too, runs in a warm process); the first, which also
pays one-time set-up, is reported beside it. Each memory size runs the gate
once in a fresh process and reports its peak RSS, so the figures do not
include the benchmark's own state.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from _common import emit, single_core
from trainguard.decision.decide import Record, decide
from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.gate import run_gate
from trainguard.store import Store

CATEGORIES = np.array(
    [
        "customer.chat",
        "customer.audio",
        "customer.transcript",
        "service.telemetry",
        "service.usage",
        "external.licensed",
    ]
)
AT = datetime(2023, 8, 15, tzinfo=UTC)
CHUNK = 500_000


def write_records(path: Path, n: int, seed: int = 1, tenants: int = 100) -> None:
    """n records from ``tenants`` tenants, in chunks (memory stays flat while writing
    20M)."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2023, 4, 1, tzinfo=UTC).timestamp() * 1e6)
    span = int(150 * 86400 * 1e6)
    words = np.array(["meeting", "budget", "design", "launch", "agenda", "notes", "review"])
    with pq.ParquetWriter(path, _schema()) as out:
        for lo in range(0, n, CHUNK):
            k = min(CHUNK, n - lo)
            ids = pa.array([f"rec-{i:09d}" for i in range(lo, lo + k)])
            names = pa.array(np.char.add("tenant-", rng.integers(0, tenants, k).astype(str)))
            cats = pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), k)])
            times = pa.array(start + rng.integers(0, span, k), pa.timestamp("us", tz="UTC"))
            text = pc.binary_join_element_wise(
                *[pa.array(words[rng.integers(0, len(words), k)]) for _ in range(12)], " "
            )
            out.write_table(pa.table([ids, names, cats, times, text], schema=_schema()))


def _schema() -> pa.Schema:
    return pa.schema(
        [
            ("id", pa.string()),
            ("tenant", pa.string()),
            ("category", pa.string()),
            ("collected_at", pa.timestamp("us", tz="UTC")),
            ("text", pa.string()),
        ]
    )


def make_store(folder: Path) -> Store:
    store = Store(str(folder / "bench.db"))
    store.init()
    files = copy_policy_files(folder)[:3]
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    # Thousands of tenants, all under the platform's terms: the explicit default.
    store.set_default_family("meetco-terms")
    return store


def floor(src: Path, dst: Path) -> float:
    """Read, filter (a precomputed mask of the same size), write: no decisions."""
    start = time.perf_counter()
    f = pq.ParquetFile(src)
    with pq.ParquetWriter(dst, f.schema_arrow) as out:
        for batch in f.iter_batches(batch_size=65_536):
            keep = pc.is_in(
                batch.column("category"), pa.array(["service.telemetry", "service.usage"])
            )
            out.write_batch(batch.filter(keep))
    return time.perf_counter() - start


def io_and_hashing(src: Path, gate_out: Path, dst: Path) -> float:
    """What the gate's outputs cost with no decisions at all: the floor, plus writing
    the manifest the gate wrote and hashing its leaves (built beforehand, untimed).
    No gate producing these outputs can be faster on this machine."""
    from trainguard._native.hashing import sha256_many
    from trainguard.gate.leaves import leaf_bytes
    from trainguard.gate.manifest import MANIFEST_WRITE_OPTIONS

    manifest = pq.read_table(gate_out / "manifest.parquet")
    batches = manifest.to_batches(max_chunksize=65_536)
    leaves = [(data.copy(), offsets) for data, offsets in map(leaf_bytes, batches)]
    seconds = floor(src, dst)
    start = time.perf_counter()
    with pq.ParquetWriter(
        dst.with_suffix(".manifest.parquet"), manifest.schema, **MANIFEST_WRITE_OPTIONS
    ) as out:
        for batch in batches:
            out.write_batch(batch)
    for data, offsets in leaves:
        sha256_many(data, offsets)
    return seconds + time.perf_counter() - start


def unique_ids_check(gate_out: Path, spill: Path) -> dict[str, float]:
    """What refusing repeated (tenant, id)s costs, on the manifest a gate run wrote:
    digesting every key and sorting the digests, all in memory and spilled to bucket
    files (as a run over more than a million records does). Seconds per million."""
    import trainguard.gate.unique as unique

    manifest = pq.ParquetFile(gate_out / "manifest.parquet")
    batches = [
        (b.column("tenant"), b.column("id"))
        for b in manifest.iter_batches(batch_size=65_536, columns=["tenant", "id"])
    ]
    n = sum(len(ids) for _, ids in batches)
    out = {}
    for label, check in (
        ("in_memory", unique.UniqueIds()),
        ("spilled", unique.UniqueIds(spill, memory_digests=65_536)),
    ):
        check.digests(*batches[0])  # load the compiled kernel before timing
        start = time.perf_counter()
        for tenants, ids in batches:
            check.add(tenants, ids)
        assert not len(check.suspects())
        out[f"unique_ids_{label}_seconds_per_million"] = (time.perf_counter() - start) / n * 1e6
    return out


def python_loop(store: Store, src: Path, limit: int) -> float:
    """The peer: for each row, build a Record and call decide (on the first `limit` rows)."""
    ctx = store.context()
    rows = pq.read_table(src).slice(0, limit).to_pylist()
    start = time.perf_counter()
    for r in rows:
        decide(
            ctx,
            Record(r["id"], r["tenant"], (r["category"],), r["collected_at"]),
            "train.first_party",
            AT,
        )
    return limit / (time.perf_counter() - start)


def peak_rss_bytes() -> int:
    """This process's own peak RSS. Not getrusage's ru_maxrss: a child started by
    vfork and exec inherits the parent's high-water mark there, so a benchmark
    parent holding a gigabyte would be charged to every gate it starts."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def child(args: argparse.Namespace) -> None:
    """Run the gate in this process and print its time and peak RSS. With --twice, run
    it again into a second folder: the first run in a process also pays one-time
    set-up (numba loading its cached kernels, pyarrow importing pandas), the second
    shows the throughput itself."""
    single_core()
    store = Store(args.db)
    times = []
    for k in range(2 if args.twice else 1):
        start = time.perf_counter()
        result = run_gate(store, [args.src], "train.first_party", f"{args.out}-{k}", at=AT)
        times.append(time.perf_counter() - start)
    rss = peak_rss_bytes()
    print(
        json.dumps(
            {"records": result.records, "seconds": times[-1], "first": times[0],
             "peak_rss_bytes": rss}
        )
    )  # fmt: skip


def run_child(db: Path, src: Path, out: Path, twice: bool = False) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "--db",
            str(db),
            "--src",
            str(src),
            "--out",
            str(out),
            *(["--twice"] if twice else []),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--memory-sizes", default="1000000,20000000")
    parser.add_argument("--loop-records", type=int, default=50_000)
    parser.add_argument("--many-tenants", type=int, default=300_000)
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--db")
    parser.add_argument("--src")
    parser.add_argument("--out")
    parser.add_argument("--twice", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    single_core()
    tmp = Path(tempfile.mkdtemp(prefix="tg-bench-gate-"))
    store = make_store(tmp)
    src = tmp / "records.parquet"
    write_records(src, args.records)
    out: dict[str, Any] = {"records": args.records, "input_bytes": src.stat().st_size}

    floors, gates, firsts = [], [], []
    for i in range(3):  # medians of three, alternating, so drift hits both alike
        floors.append(floor(src, tmp / f"floor-{i}.parquet"))
        gate = run_child(tmp / "bench.db", src, tmp / f"gate-{i}", twice=True)
        gates.append(gate["seconds"])
        firsts.append(gate["first"])
    floor_s, gate_s = float(np.median(floors)), float(np.median(gates))
    bound_s = float(
        np.median(
            [io_and_hashing(src, tmp / "gate-0-0", tmp / f"bound-{i}.parquet") for i in range(3)]
        )
    )
    out["floor_pyarrow_filter_records_per_s"] = args.records / floor_s
    out["floor_plus_manifest_write_and_leaf_hashing_records_per_s"] = args.records / bound_s
    out["gate_records_per_s"] = args.records / gate_s
    out["gate_first_run_in_a_process_records_per_s"] = args.records / float(np.median(firsts))
    out["python_loop_decide_records_per_s"] = python_loop(store, src, args.loop_records)
    # Refusing repeated ids is part of every gate run above; here is its share alone.
    checks = [unique_ids_check(tmp / "gate-0-0", tmp / f"spill-{i}") for i in range(3)]
    for key in checks[0]:
        out[key] = float(np.median([c[key] for c in checks]))
    out["unique_ids_share_of_gate_time"] = (
        out["unique_ids_in_memory_seconds_per_million"] * args.records / 1e6 / gate_s
    )
    out["gate_vs_floor_time_ratio"] = gate_s / floor_s
    out["gate_vs_lower_bound_time_ratio"] = gate_s / bound_s
    out["gate_vs_python_loop"] = out["gate_records_per_s"] / out["python_loop_decide_records_per_s"]

    memory = []
    for n in (int(x) for x in args.memory_sizes.split(",") if x):
        path = tmp / f"mem-{n}.parquet"
        write_records(path, n, seed=2)
        r = run_child(tmp / "bench.db", path, tmp / f"mem-out-{n}")  # one run: its own RSS
        memory.append(
            {
                "records": n,
                "peak_rss_mb": round(r["peak_rss_bytes"] / 2**20),
                "records_per_s": round(n / r["seconds"]),
            }
        )
        path.unlink()
    out["memory"] = memory

    # The same number of records from many tenants (most without consent events).
    many = tmp / "many-tenants.parquet"
    write_records(many, args.records, seed=3, tenants=args.many_tenants)
    r = run_child(tmp / "bench.db", many, tmp / "many-out", twice=True)
    out["many_tenants"] = {
        "tenants": args.many_tenants,
        "records_per_s": round(args.records / r["seconds"]),
        "first_run_records_per_s": round(args.records / r["first"]),
    }
    out["goals"] = {"gate_records_per_s": 1_000_000, "gate_vs_floor_time_ratio_at_most": 3}
    emit("gate", out)


if __name__ == "__main__":
    main()
