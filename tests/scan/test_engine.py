"""A shard is scanned as its documents would be one by one, however they are read."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from trainguard.scan import Matcher, Registry, ScanOptions, scan_shard
from trainguard.scan.corpus import plan_shards

from .test_matcher import pick


def test_a_jsonl_shard_is_scanned_as_its_documents_parsed_one_by_one(
    meetings: dict[str, str], registered: Registry, tmp_path: Path
) -> None:
    """Lines the compiled reader takes and lines it leaves to orjson (transcript turns,
    an escaped key, a malformed line) mix in one batch: the findings are those of
    each parsed document scanned alone, at the right lines, in line order."""
    rng = random.Random(4)
    matcher = Matcher(registered)
    options = ScanOptions(str(registered.path), str(registered.keys.path))
    lines, texts = [], {}
    for k in range(1, 31):
        _, frag = pick(meetings, registered, rng, 30)
        text = f'Intro {k}: "quoted"\tand é.\n' + frag
        if k % 5 == 0:  # transcript turns: read by orjson
            record: dict[str, object] = {"id": f"d{k}", "turns": [{"content": text}]}
        elif k % 7 == 0:  # an escaped key: read by orjson
            lines.append(f'{{"id": "d{k}", "te\\u0078t": {json.dumps(text)}}}')
            texts[k] = (f"d{k}", text)
            continue
        else:
            record = {"id": f"d{k}", "text": text, "meta": {"n": [1, 2.5, None]}}
        lines.append(json.dumps(record, ensure_ascii=k % 2 == 0))
        texts[k] = (f"d{k}", text)
    lines.insert(10, '{"id": "broken", "text": ')
    texts = {k + (k > 10): v for k, v in texts.items()}
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (shard,) = plan_shards([str(path)])
    result = scan_shard(shard, options)
    found = result.findings
    expected = []
    for line, (doc_id, text) in sorted(texts.items()):
        spans, _ = matcher.scan(text)
        if spans:
            expected.append((line, doc_id, [s.to_json() for s in spans]))
    assert [(f["line"], f["doc_id"], f["spans"]) for f in found] == expected
    assert len(expected) == 30
    assert [m.line for m in result.report.malformed] == [11]
    assert result.report.documents == 30 and result.report.lines == 31


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_after_the_registry_changed_sees_the_change(
    meetings: dict[str, str], tmp_path: Path, workers: int
) -> None:
    """A pipeline that scans, registers more content, and scans again in one process
    must not be served the registry as it was at the first scan — nor must the
    workers the process keeps between scans."""
    from trainguard.scan import KeyRing, scan_corpus

    registry = Registry(tmp_path / "registry", KeyRing(tmp_path / "keys"))
    first, second = sorted(meetings)[:2]
    registry.add("acme", [(first, meetings[first], None)])
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "leak", "text": meetings[second][:3000]}) + "\n")
    options = ScanOptions(str(registry.path), str(registry.keys.path))
    out = tmp_path / "findings.jsonl"

    def found() -> int:
        return scan_corpus([str(corpus)], options, out, workers=workers).findings

    assert found() == 0
    registry.add("acme", [(second, meetings[second], None)])
    assert found() == 1
    registry.remove("acme", second)
    assert found() == 0


def test_the_workers_are_kept_between_scans_and_stopped_on_request(
    registered: Registry, tmp_path: Path
) -> None:
    from trainguard.scan import engine, scan_corpus

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"id": f"d{i}", "text": "x y z"}) + "\n" for i in range(5))
    )
    options = ScanOptions(str(registered.path), str(registered.keys.path))
    scan_corpus([str(corpus)], options, tmp_path / "f.jsonl", workers=2)
    kept = engine._POOL
    scan_corpus([str(corpus)], options, tmp_path / "f.jsonl", workers=2)
    assert kept is not None and engine._POOL is kept  # the same workers, still warm
    engine.shutdown_pool()
    assert engine._POOL is None
