"""Reading JSONL corpora: every line accounted for, whatever blocks and shards it falls in."""

from __future__ import annotations

import json
from pathlib import Path

from trainguard.scan.corpus import Fields, ShardReport, plan_shards, read_documents


def _corpus(path: Path) -> dict[int, str]:
    """2500 lines over more than one 1 MB read block, with a blank, a broken and a
    non-object line; returns the line number of every good document."""
    good: dict[int, str] = {}
    with path.open("w", encoding="utf-8") as f:
        for line in range(1, 2501):
            if line == 1200:
                f.write("\n")
            elif line == 1800:
                f.write('{"id": "broken", "text": \n')
            elif line == 2000:
                f.write("[1, 2]\n")
            else:
                f.write(json.dumps({"id": f"d{line}", "text": "word " * 120}) + "\n")
                good[line] = f"d{line}"
    return good


def test_a_whole_file_reads_every_document_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    good = _corpus(path)
    (shard,) = plan_shards([str(path)], shard_bytes=1 << 30)
    report = ShardReport()
    docs = list(read_documents(shard, Fields(), report))
    assert {d.line: d.doc_id for d in docs} == good
    assert [(m.line, m.problem.split(" ")[0]) for m in report.malformed] == [
        (1800, "not"),
        (2000, "not"),
    ]
    assert report.lines == 2500 and report.bytes == path.stat().st_size


def test_shards_split_the_file_without_losing_or_repeating_a_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    good = _corpus(path)
    shards = plan_shards([str(path)], shard_bytes=100_000)
    assert len(shards) > 10
    ids: list[str] = []
    total_bytes = total_lines = 0
    for shard in shards:
        report = ShardReport()
        ids += [d.doc_id for d in read_documents(shard, Fields(), report)]
        total_bytes += report.bytes
        total_lines += report.lines
    assert ids == list(good.values())
    assert total_bytes == path.stat().st_size and total_lines == 2500


def test_broken_lines_that_would_parse_together_are_each_reported(tmp_path: Path) -> None:
    # Joined, these three lines are three valid objects; alone, none is valid JSON.
    path = tmp_path / "c.jsonl"
    path.write_text('{"text": "a", "x": [1\n2]}\n{"text": "b"}, {"text": "c"}\n{"text": "d"}\n')
    (shard,) = plan_shards([str(path)])
    report = ShardReport()
    docs = list(read_documents(shard, Fields(), report))
    assert [(d.line, d.text) for d in docs] == [(4, "d")]
    assert [m.line for m in report.malformed] == [1, 2, 3]
