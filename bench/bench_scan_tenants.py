"""Scan throughput by the number of tenants in the registry, on one core.

The same corpus (the bench_scan build, 75 MB by default) is scanned against
the same 81 registered meetings split among 1, 2, 8, 32 and 81 tenants. Each
tenant has its own key; the registry's filter under the platform key is what
keeps the cost of a scan from growing with their number (docs/scan.md).

Run: python bench/bench_scan_tenants.py [--mb 75]. Prints JSON: per tenant
count, the median of three scans and each run, the documents with findings,
and how many of the planted fragments were found. (The documents found may
differ a little between splits: a window registered by two tenants is common,
which lowers a boilerplate span's confidence.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _common import emit, single_core
from bench_scan import build, register
from trainguard.scan import Fields, ScanOptions, scan_corpus


def scan(corpus: dict[str, Any], registry: Path, keys: Path, out: Path) -> dict[str, Any]:
    options = ScanOptions(str(registry), str(keys), fields=Fields())
    files = [str(f) for f in corpus["files"]]
    runs = [scan_corpus(files, options, out, workers=1) for _ in range(3)]
    median = sorted(runs, key=lambda r: r.seconds)[1]
    found = {json.loads(line)["doc_id"] for line in out.read_text().splitlines()}
    return {
        "mb_per_s": round(median.mb_per_s, 1),
        "mb_per_s_each_run": [round(r.mb_per_s, 1) for r in runs],
        "documents_with_findings": len(found),
        "planted_found": len(found & set(corpus["planted"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=75)
    args = parser.parse_args()
    single_core()
    folder = Path(tempfile.mkdtemp(prefix="tg-bench-tenants-"))
    corpus = build(folder, args.mb, tenants=1)
    rows: dict[str, Any] = {}
    for tenants in (1, 2, 8, 32, 81):
        where = folder / f"t{tenants}"
        shutil.rmtree(where, ignore_errors=True)
        register(where, corpus["meetings"], corpus["registered"], tenants)
        rows[str(tenants)] = scan(corpus, where / "registry", where / "keys", folder / "out.jsonl")
    one = rows["1"]["mb_per_s"]
    emit(
        "scan_tenants",
        {
            "corpus_mb": round(sum(f.stat().st_size for f in corpus["files"]) / 1e6, 1),
            "planted": len(corpus["planted"]),
            "by_tenants": rows,
            "slowdown_81_vs_1": round(one / rows["81"]["mb_per_s"], 2),
        },
    )
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
