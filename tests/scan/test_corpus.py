"""Reading JSONL corpora: every line accounted for, whatever blocks and shards it falls in."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.corpus import (
    Fields,
    ShardReport,
    join_lines_reference,
    join_strings,
    plan_shards,
    read_batches,
    read_documents,
)


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


def test_parquet_text_is_batched_from_arrow_buffers_with_every_row_accounted_for(
    tmp_path: Path,
) -> None:
    """Rows go to the scanner straight from Arrow's buffers; a null or a value that is not
    UTF-8 (Parquet readers do not check) is reported at its row, the rest read."""
    texts: list[bytes | None] = [f"document {i} ".encode() * (i % 7) for i in range(300)]
    texts[5], texts[77] = None, b"broken \xff\xfe text"
    raw = pa.array(texts, pa.binary())
    column = pa.Array.from_buffers(pa.string(), len(raw), raw.buffers(), raw.null_count)
    path = tmp_path / "c.parquet"
    ids = pa.array([f"d{i}" for i in range(300)])
    pq.write_table(pa.table({"id": ids, "text": column}), path, row_group_size=120)
    (shard,) = plan_shards([str(path)])
    report = ShardReport()
    seen = []
    batches = 0
    for batch in read_batches(shard, Fields(), report, batch_bytes=500):
        batches += 1  # each batch is checked before the next is read: they share a buffer
        for k in range(len(batch)):
            doc = batch.document(k)
            start = int(batch.starts[k])
            assert batch.data[start : start + len(doc.text.encode())].tobytes() == doc.text.encode()
            seen.append((int(batch.lines[k]), doc.doc_id, doc.text))
    expected = [(i + 1, f"d{i}", t.decode()) for i, t in enumerate(texts) if i not in (5, 77)]
    assert seen == expected
    assert [(m.line, m.problem) for m in report.malformed] == [
        (6, "text is not text"),
        (78, "text is not valid UTF-8"),
    ]
    assert report.documents == 298 and report.lines == 300 and batches > 3


def test_crlf_lines_read_as_lf_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    rows = [{"id": f"d{i}", "text": f"line {i}\r\nof text"} for i in range(5)]
    path.write_bytes(b"".join(json.dumps(r).encode() + b"\r\n" for r in rows))
    (shard,) = plan_shards([str(path)])
    report = ShardReport()
    docs = list(read_documents(shard, Fields(), report))
    assert [(d.line, d.doc_id, d.text) for d in docs] == [
        (i + 1, r["id"], r["text"]) for i, r in enumerate(rows)
    ]
    assert report.malformed == [] and report.bytes == path.stat().st_size


@given(st.lists(st.text(max_size=12), max_size=12), st.data())
def test_joined_lines_match_the_reference(texts: list[str], data: st.DataObject) -> None:
    rows = data.draw(st.lists(st.integers(0, max(len(texts) - 1, 0)), max_size=12)) if texts else []
    joined, starts = join_strings(pa.array(texts, pa.string()), np.array(rows, dtype=np.int64))
    expected = join_lines_reference([t.encode() for t in texts], rows)
    assert (joined.tobytes(), starts.tolist()) == expected
