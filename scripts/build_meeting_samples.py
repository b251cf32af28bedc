"""Rebuild the meeting-transcript samples kept in the repository from the full file.

Two gzip-compressed subsets of the QMSum training split (one meeting per line,
exactly as in the full file, in its order):

- ``tests/data/qmsum-sample.jsonl.gz``: what the tests register and scan —
  meetings of the AMI series (left unregistered by the tests: same-domain
  strangers) and of the ICSI, parliamentary-committee and education series
  (registered by the tests);
- ``src/trainguard/demo/data/qmsum-demo.jsonl.gz``: the few meetings ``trainguard demo``
  registers and scans.

The output is the same bytes on every run (gzip without a name or a time).

Run: python scripts/build_meeting_samples.py [path/to/qmsum-train.jsonl]
(default: ``$TRAINGUARD_MEETINGS``, else ``shared/data/meetings/qmsum-train.jsonl``
beside the project).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
from pathlib import Path

from trainguard.demo.sample_data import meetings_path

ROOT = Path(__file__).resolve().parents[1]

AMI = (
    "ES2002a", "ES2002b", "ES2002c", "ES2002d", "ES2008a", "ES2008b", "IS1000a", "IS1000b",
    "IS1000c", "IS1000d", "IS1005a", "IS1005b", "TS3003a", "TS3003b", "TS3003c", "TS3003d",
)  # fmt: skip
OTHERS = (
    "Bdb001", "Bed004", "Bed005", "Bed006", "Bmr007", "Bmr009", "Bro003", "Bro007",
    "Bro008", "Bro010", "Buw001", "covid_0", "covid_1", "education_1", "education_2",
    "education_3",
)  # fmt: skip
DEMO = ("Bed004", "Bro007", "education_2", "ES2002a", "IS1000a", "TS3003a")

SAMPLES = {
    ROOT / "tests" / "data" / "qmsum-sample.jsonl.gz": AMI + OTHERS,
    ROOT / "src" / "trainguard" / "demo" / "data" / "qmsum-demo.jsonl.gz": DEMO,
}


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as f:
        f.write(data)
    return out.getvalue()


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else meetings_path()
    if source is None or not source.exists():
        print("build_meeting_samples: the full qmsum-train.jsonl was not found", file=sys.stderr)
        return 2
    lines = {
        json.loads(line)["meeting_id"]: line for line in source.read_text("utf-8").splitlines()
    }
    for target, ids in SAMPLES.items():
        missing = sorted(set(ids) - set(lines))
        if missing:
            print(f"build_meeting_samples: {source}: no meeting {missing[0]}", file=sys.stderr)
            return 2
        chosen = [line for m, line in lines.items() if m in ids]  # the full file's order
        data = gzip_bytes(("\n".join(chosen) + "\n").encode("utf-8"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        print(
            f"{target.relative_to(ROOT)}: {len(chosen)} meetings, {len(data)} bytes, sha256 {digest}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
