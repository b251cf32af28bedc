"""Run every benchmark, one after another, each printing its JSON (`make bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "bench_startup.py",
    "bench_decide.py",
    "bench_audit.py",
    "bench_gate.py",
    "bench_scan.py",
    "bench_scan_tenants.py",
    "measure_scan_defaults.py",
    "measure_rerendered.py",
    "bench_checkpoint.py",
    "bench_registry_open.py",
    "bench_media.py",
    "bench_http.py",
    "bench_gateway.py",
    "measure_gateway_quality.py",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"# {name}", flush=True)
        if subprocess.run([sys.executable, str(HERE / name)], cwd=HERE).returncode:
            failed.append(name)
    if failed:
        print(f"# failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
