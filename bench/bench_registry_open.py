"""What opening a registry costs now that every file is checked against its SHA-256:
the bench's registry (81 meetings, two tenants) opened as a scan opens it — a
matcher over a fresh Registry, every segment, the filter and the items checked —
and SHA-256 alone over 256 MB, for the cost per MB.

Run: python bench/bench_registry_open.py. Prints JSON.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from _common import emit, median_seconds, single_core
from bench_scan import MEETINGS, register
from trainguard.scan import KeyRing, Matcher, Registry, transcript_text


def main() -> None:
    single_core()
    with MEETINGS.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    meetings = {r["meeting_id"]: transcript_text(r["turns"]) for r in rows}
    folder = Path(tempfile.mkdtemp(prefix="tg-bench-open-"))
    registry = register(folder, meetings, sorted(meetings)[::2], tenants=2)
    size = sum(f.stat().st_size for f in registry.path.iterdir())

    def open_registry() -> None:
        Matcher(Registry(registry.path, KeyRing(registry.keys.path)))

    data = os.urandom(256 << 20)
    start = time.perf_counter()
    hashlib.sha256(data).digest()
    sha_seconds = time.perf_counter() - start
    seconds = median_seconds(open_registry, repeat=7)
    shutil.rmtree(folder)
    emit(
        "registry_open",
        {
            "registry_mb": round(size / 1e6, 1),
            "open_ms_median_of_7": round(seconds * 1000, 1),
            "open_ms_per_mb": round(seconds * 1000 / (size / 1e6), 2),
            "sha256_gb_per_s": round(len(data) / 1e9 / sha_seconds, 2),
            "sha256_ms_per_mb": round(sha_seconds * 1000 / (len(data) / 1e6), 2),
        },
    )


if __name__ == "__main__":
    main()
