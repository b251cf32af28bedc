"""Run a scan over shards: in this process, on a local process pool, or on Ray Data.

Every engine calls :func:`scan_shard` on the same shards and the driver puts
the results back in shard order, so the findings are the same, byte for byte,
whichever engine ran them. A record that could not be read is not a clean
record: the findings name it too (``{"source", "line", "malformed", "problem"}``),
the summary counts it by reason, and :meth:`ScanSummary.failure` fails the
scan on it unless the caller chose to skip such records. Workers open the registry themselves: its segments
are memory-mapped, so they share the pages rather than copying them.
"""

from __future__ import annotations

import atexit
import json
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..sources import Format
from .corpus import (
    SHARD_BYTES,
    DocBatch,
    Document,
    Fields,
    Malformed,
    Shard,
    ShardReport,
    plan_shards,
    read_batches,
    warm_up,
)
from .findings import finding_json
from .keys import KeyRing
from .matcher import Matcher, ScanConfig
from .registry import Registry


@dataclass
class ScanOptions:
    registry: str
    keys: str
    config: ScanConfig = field(default_factory=ScanConfig)
    fields: Fields = field(default_factory=Fields)


@dataclass
class ShardResult:
    number: int
    findings: list[dict[str, Any]]
    report: ShardReport


@dataclass
class ScanSummary:
    documents: int = 0
    bytes: int = 0
    findings: int = 0
    matched_tokens: int = 0
    malformed: int = 0
    malformed_by_reason: dict[str, int] = field(default_factory=dict)
    first_malformed: Malformed | None = None
    seconds: float = 0.0
    shards: int = 0
    engine: str = "local"
    workers: int = 1

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0

    def count_malformed(self, m: Malformed) -> None:
        self.malformed += 1
        self.malformed_by_reason[m.reason] = self.malformed_by_reason.get(m.reason, 0) + 1
        if self.first_malformed is None:
            self.first_malformed = m

    def failure(self, *, skip_malformed: bool = False) -> str | None:
        """Why a scan asked to fail on findings fails, in one line (None: it passes).
        A record that could not be read may hold registered content no one checked,
        so it fails the scan too, unless ``skip_malformed``."""
        problems = []
        if self.findings:
            problems.append(f"{self.findings} documents hold registered customer content")
        if self.malformed and not skip_malformed:
            first = self.first_malformed
            assert first is not None
            problems.append(
                f"{self.malformed} malformed records could not be scanned (first: "
                f"{first.location()}: {first.problem}; --skip-malformed passes them)"
            )
        return "; ".join(problems) or None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "mb_per_s": round(self.mb_per_s, 1)}


_MATCHERS: dict[tuple[str, str, ScanConfig], tuple[bytes, Matcher]] = {}


def matcher_for(options: ScanOptions) -> Matcher:
    """One matcher per worker process (segments mapped once, keys read once), for as
    long as the registry stays as it was: every change commits a new
    ``registry.json`` (new segment names, counts), so a scan after an add or a
    removal sees it. The file is small; comparing it is cheaper than any doubt."""
    k = (options.registry, options.keys, options.config)
    try:
        version = (Path(options.registry) / "registry.json").read_bytes()
    except OSError:
        version = b""
    cached = _MATCHERS.get(k)
    if cached is None or cached[0] != version:
        registry = Registry(options.registry, KeyRing(options.keys))
        _MATCHERS[k] = (version, Matcher(registry, options.config))
    return _MATCHERS[k][1]


def _findings(matcher: Matcher, batch: DocBatch, shard: Shard) -> list[dict[str, Any]]:
    docs: dict[int, Document] = {}

    def text_of(k: int) -> str:
        docs[k] = batch.document(k)  # read once: its id is needed too if it has findings
        return docs[k].text

    counts, found = matcher.scan_batch(batch.data, batch.starts, text_of)
    out = []
    for k in sorted(found, key=lambda k: int(batch.lines[k])):  # in line order
        doc = docs[k]
        where = {"source": shard.source.url, "line": doc.line}
        out.append(finding_json(doc.doc_id, found[k], int(counts[k]), where=where))
    return out


def scan_shard(shard: Shard, options: ScanOptions) -> ShardResult:
    """Scan one shard: a finding per document with registered content."""
    matcher = matcher_for(options)
    report = ShardReport()
    findings = []
    for batch in read_batches(shard, options.fields, report):
        findings += _findings(matcher, batch, shard)
    return ShardResult(shard.number, findings, report)


# --- engines ----------------------------------------------------------------------------

Engine = Callable[[Sequence[Shard], ScanOptions, int], Iterator[ShardResult]]


_POOL: tuple[int, ProcessPoolExecutor] | None = None


def _pool(workers: int, options: ScanOptions) -> ProcessPoolExecutor:
    """The process's pool of scan workers, kept between scans.

    A worker's first shard costs more than the next ones (fresh pages for its
    buffers, its cache of normalized words, the registry's pages), so a process
    that scans several corpora keeps its workers warm rather than forking new
    ones each time. They stay correct across registry changes: each shard asks
    :func:`matcher_for`, which follows ``registry.json``. The compiled kernels
    and the character table are loaded here before the workers fork, so they
    inherit them instead of each paying a third of a second.
    """
    global _POOL
    if _POOL is not None and _POOL[0] == workers:
        return _POOL[1]
    shutdown_pool()
    matcher_for(options).warm_up()
    warm_up()
    _POOL = (workers, ProcessPoolExecutor(max_workers=workers))
    return _POOL[1]


def shutdown_pool() -> None:
    """Stop the scan workers this process keeps (also done at exit)."""
    global _POOL
    if _POOL is not None:
        _POOL[1].shutdown(wait=True, cancel_futures=True)
        _POOL = None


atexit.register(shutdown_pool)


def local_engine(
    shards: Sequence[Shard], options: ScanOptions, workers: int
) -> Iterator[ShardResult]:
    if workers <= 1:
        for shard in shards:
            yield scan_shard(shard, options)
        return
    pool = _pool(workers, options)
    futures = [pool.submit(scan_shard, shard, options) for shard in shards]
    try:
        for future in futures:  # in shard order, each as soon as it and those before are done
            yield future.result()
    except BrokenProcessPool:
        shutdown_pool()  # a worker died: the next scan starts a new pool
        raise
    finally:
        for future in futures:  # a scan stopped early leaves the kept workers free
            future.cancel()


def start_ray(workers: int) -> Any:
    """The ray module, with a local cluster of ``workers`` CPUs started if none runs
    (kept for the process's later scans), quiet: no dashboard, progress bars or logs."""
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'trainguard[ray]'") from None
    import logging

    if not ray.is_initialized():
        ray.init(
            num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
            logging_level=logging.ERROR,
        )  # fmt: skip
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def ray_engine(
    shards: Sequence[Shard], options: ScanOptions, workers: int
) -> Iterator[ShardResult]:
    ray = start_ray(workers)
    by_number = {s.number: s for s in shards}

    def run(item: dict[str, Any]) -> dict[str, Any]:
        result = scan_shard(by_number[int(item["number"])], options)
        return {"number": result.number, "result": _encode(result)}

    # Fewer shards than workers is fine: Ray need not say so on every scan.
    warnings.filterwarnings("ignore", message="The maximum number of concurrent tasks")
    # One block per shard, so every shard can be its own task.
    rows = (
        ray.data.from_items([{"number": s.number} for s in shards], override_num_blocks=len(shards))
        .map(run, compute=ray.data.TaskPoolStrategy(size=max(workers, 1)))
        .take_all()
    )
    for row in sorted(rows, key=lambda r: r["number"]):
        yield _decode(row["result"])


def _encode(result: ShardResult) -> str:
    return json.dumps(
        {
            "number": result.number,
            "findings": result.findings,
            "report": {
                "documents": result.report.documents,
                "bytes": result.report.bytes,
                "lines": result.report.lines,
                "malformed": [asdict(m) for m in result.report.malformed],
            },
        }
    )


def _decode(text: str) -> ShardResult:
    d = json.loads(text)
    r = d["report"]
    report = ShardReport(
        r["documents"], r["bytes"], r["lines"], [Malformed(**m) for m in r["malformed"]]
    )
    return ShardResult(d["number"], d["findings"], report)


ENGINES: dict[str, Engine] = {"local": local_engine, "ray": ray_engine}


def _malformed_entry(m: Malformed) -> dict[str, Any]:
    """A record the scan could not read, as the findings file names it."""
    return {"source": m.source, "line": m.line, "malformed": m.reason, "problem": m.problem}


# --- the driver -------------------------------------------------------------------------


def scan_corpus(
    paths: Sequence[str],
    options: ScanOptions,
    out: Path | None,
    *,
    fmt: Format | None = None,
    engine: str = "local",
    workers: int = 1,
    on_shard: Callable[[ShardResult, int], None] | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
    shard_bytes: int = SHARD_BYTES,
) -> ScanSummary:
    """Scan every document under ``paths``; write findings (JSON lines) to ``out``."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r}: use local or ray")
    if workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    Registry(options.registry, KeyRing(options.keys)).require().require_keys()
    matcher_for(options)  # every registry file checked here, before any shard is read
    shards = plan_shards(paths, fmt, shard_bytes)
    summary = ScanSummary(shards=len(shards), engine=engine, workers=workers)
    start = time.perf_counter()
    lines_before: dict[str, int] = {}
    tmp = out.with_name(f".{out.name}.partial") if out else None
    sink = tmp.open("w", encoding="utf-8") if tmp else None
    try:
        for result in ENGINES[engine](shards, options, workers):
            url = next(s.source.url for s in shards if s.number == result.number)
            offset = lines_before.get(url, 0)
            lines_before[url] = offset + result.report.lines
            entries: list[tuple[int, dict[str, Any]]] = []
            for m in result.report.malformed:
                m.line += offset
                summary.count_malformed(m)
                if on_malformed:
                    on_malformed(m)
                entries.append((m.line, _malformed_entry(m)))
            for finding in result.findings:
                line = finding.pop("line") + offset
                if not finding["doc_id"]:
                    finding["doc_id"] = f"{url}:{line}"
                summary.findings += 1
                summary.matched_tokens += finding["matched_tokens"]
                entries.append((line, finding))
            if sink:
                for _, entry in sorted(entries, key=lambda e: e[0]):  # in line order
                    sink.write(json.dumps(entry, ensure_ascii=False) + "\n")
            summary.documents += result.report.documents
            summary.bytes += result.report.bytes
            if on_shard:
                on_shard(result, len(shards))
        if sink and tmp and out:
            sink.close()
            os.replace(tmp, out)
    finally:
        if sink and not sink.closed:
            sink.close()
        if tmp and tmp.exists():
            tmp.unlink()
    summary.seconds = time.perf_counter() - start
    return summary
