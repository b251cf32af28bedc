"""Where the real meeting transcripts are, for the demo, the tests and the benchmarks.

They are not part of the package: ``$TRAINGUARD_MEETINGS`` names the file, or
it is found as ``shared/data/meetings/qmsum-train.jsonl`` beside the project
or above the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "TRAINGUARD_MEETINGS"
RELATIVE = Path("shared") / "data" / "meetings" / "qmsum-train.jsonl"


def meetings_path() -> Path | None:
    named = os.environ.get(ENV)
    if named:
        return Path(named) if Path(named).exists() else None
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / RELATIVE
            if candidate.exists():
                return candidate
    return None
