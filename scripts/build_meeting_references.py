"""Rebuild the human references kept beside the test transcripts.

For each meeting of ``tests/data/qmsum-sample.jsonl.gz``, QMSum's own human
annotations (Zhong et al., 2021; MIT licence, as the transcripts): the
reference summary of the whole meeting and the specific questions with their
human answers and the turn spans a person marked as relevant. Nothing else of
the annotation files is kept. Written to ``tests/data/qmsum-references.jsonl.gz``,
one meeting per line, in the sample's order, the same bytes on every run:

    {"meeting_id": "ES2002a", "summary": "...",
     "queries": [{"query": "...", "answer": "...", "spans": [[0, 20]]}, ...]}

Run: python scripts/build_meeting_references.py path/to/QMSum/data/ALL/train
(the folder of per-meeting JSON files of QMSum's training split).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_meeting_samples import gzip_bytes

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "qmsum-sample.jsonl.gz"
TARGET = ROOT / "tests" / "data" / "qmsum-references.jsonl.gz"


def references(meeting_id: str, annotation: dict[str, object], n_turns: int) -> dict[str, object]:
    general = annotation["general_query_list"]
    assert isinstance(general, list) and general, f"{meeting_id}: no general query"
    queries = []
    for q in annotation["specific_query_list"]:  # type: ignore[attr-defined]
        spans = [[int(a), int(b)] for a, b in q["relevant_text_span"]]
        if any(not 0 <= a <= b < n_turns for a, b in spans):
            raise SystemExit(f"{meeting_id}: span {spans} outside its {n_turns} turns")
        queries.append({"query": q["query"], "answer": q["answer"], "spans": spans})
    return {"meeting_id": meeting_id, "summary": general[0]["answer"], "queries": queries}


def main() -> int:
    if len(sys.argv) != 2 or not Path(sys.argv[1]).is_dir():
        print("usage: build_meeting_references.py QMSUM/data/ALL/train", file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    lines = []
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as f:
        for line in f:
            meeting = json.loads(line)
            mid = meeting["meeting_id"]
            annotation = json.loads((folder / f"{mid}.json").read_text("utf-8"))
            turns = annotation["meeting_transcripts"]
            if [t["content"] for t in turns] != [t["content"] for t in meeting["turns"]]:
                raise SystemExit(f"{mid}: the annotation's transcript is not the sample's")
            row = references(mid, annotation, len(turns))
            lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    data = gzip_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    TARGET.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    print(f"{TARGET.relative_to(ROOT)}: {len(lines)} meetings, {len(data)} bytes, sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
