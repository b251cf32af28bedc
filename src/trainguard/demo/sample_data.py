"""Real meeting transcripts for the demo, the tests and the benchmarks.

The package ships a few meetings of the QMSum training split (MIT licence,
copyright Yale-LILY: ``data/LICENSE-qmsum``) for ``trainguard demo``. The full
training split is not part of the package: ``$TRAINGUARD_MEETINGS`` names the
file, or it is found as ``shared/data/meetings/qmsum-train.jsonl`` beside the
project or above the current folder (the benchmarks use it).
"""

from __future__ import annotations

import gzip
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

ENV = "TRAINGUARD_MEETINGS"
RELATIVE = Path("shared") / "data" / "meetings" / "qmsum-train.jsonl"
DEMO_SAMPLE = "qmsum-demo.jsonl.gz"


def meetings_path() -> Path | None:
    """Where the full set of transcripts is, if anywhere."""
    named = os.environ.get(ENV)
    if named:
        return Path(named) if Path(named).exists() else None
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / RELATIVE
            if candidate.exists():
                return candidate
    return None


def read_meetings(path: Path) -> list[dict[str, Any]]:
    """The meetings of a JSONL file (gzip-compressed when its name ends in .gz), in order:
    ``{"meeting_id": …, "turns": [{"speaker": …, "content": …}, …]}`` each."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def demo_meetings() -> list[dict[str, Any]]:
    """The meetings shipped with the package."""
    with resources.as_file(resources.files("trainguard.demo") / "data" / DEMO_SAMPLE) as path:
        return read_meetings(path)
