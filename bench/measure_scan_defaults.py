"""How the scanner's defaults were chosen: measured on the 162 real meeting transcripts.

Registers every other meeting (two tenants), then (1) scans the unregistered
meetings whole, counting the spans they get at each setting — every one of
them is text the unregistered meeting shares verbatim or nearly with a
registered one, mostly the procedural boilerplate of a meeting series — and
(2) plants lightly edited fragments (120 words of a registered meeting, one
word in ten replaced) into unregistered text and counts how many are found
as near-duplicates of the right meeting. Prints JSON.

Run: python bench/measure_scan_defaults.py
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

from _common import emit
from trainguard.demo.sample_data import meetings_path
from trainguard.scan import KeyRing, Matcher, Registry, ScanConfig, tokenize, transcript_text

MEETINGS = meetings_path() or Path("shared/data/meetings/qmsum-train.jsonl")


def series(meeting_id: str) -> str:
    return meeting_id.rstrip("0123456789abcd_")


def main() -> None:
    with MEETINGS.open(encoding="utf-8") as f:
        meetings = {r["meeting_id"]: transcript_text(r["turns"]) for r in map(json.loads, f)}
    ids = sorted(meetings)
    registered, unregistered = ids[::2], ids[1::2]
    base = Path(tempfile.mkdtemp())
    registry = Registry(base / "registry", KeyRing(base / "keys"))
    registry.add("acme", [(m, meetings[m], None) for m in registered[::2]])
    registry.add("globex", [(m, meetings[m], None) for m in registered[1::2]])
    rng = random.Random(3)
    planted = []
    for item in rng.sample(registered, 40):
        t = tokenize(meetings[item])
        at = rng.randrange(0, len(t) - 130)
        frag = meetings[item][int(t.starts[at]) : int(t.ends[at + 119])].split()
        edited = " ".join("banana" if k % 10 == 5 else w for k, w in enumerate(frag))
        host = meetings[rng.choice(unregistered)][:3000]
        planted.append((item, host + "\n" + edited + "\n" + host[:1000]))
    results: list[dict[str, Any]] = []
    for min_confidence in (0.0, 0.5):
        for similarity in (0.3, 0.4, 0.5):
            for width in (40, 60, 100):
                cfg = ScanConfig(
                    min_confidence=min_confidence,
                    near_min_similarity=similarity,
                    near_min_tokens=width,
                )
                matcher = Matcher(registry, cfg)
                verbatim = near = 0
                docs_hit: set[str] = set()
                same_series = 0
                for m in unregistered:
                    spans, _ = matcher.scan(meetings[m])
                    for s in spans:
                        verbatim += s.kind == "verbatim"
                        near += s.kind == "near_duplicate"
                        docs_hit.add(m)
                        same_series += all(series(i) == series(m) for i in s.items)
                found = sum(
                    any(
                        s.kind == "near_duplicate" and item in s.items for s in matcher.scan(doc)[0]
                    )
                    for item, doc in planted
                )
                results.append(
                    {
                        "min_confidence": min_confidence,
                        "near_min_similarity": similarity,
                        "near_min_tokens": width,
                        "unregistered_meetings": len(unregistered),
                        "unregistered_with_a_span": len(docs_hit),
                        "verbatim_spans": verbatim,
                        "near_duplicate_spans": near,
                        "spans_within_the_same_series": same_series,
                        "edited_fragments_found": found,
                        "edited_fragments": len(planted),
                    }
                )
    emit("scan_defaults", {"registered": len(registered), "results": results})


if __name__ == "__main__":
    main()
