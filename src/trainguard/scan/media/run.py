"""Registering media and scanning media corpora: what the CLI calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ...errors import InputError
from ..corpus import Malformed
from ..keys import KeyRing
from .corpus import MediaRecord, expand_media, is_url, read_records
from .decode import Kind, MediaError, decode
from .matcher import MediaConfig, MediaMatcher
from .store import Fingerprints, MediaRegistry, fingerprint


@dataclass
class MediaAddResult:
    added: int = 0
    already: int = 0
    landmarks: int = 0
    frames: int = 0
    ids: list[str] = field(default_factory=list)


def register_media(
    registry: str | Path,
    keys: KeyRing,
    tenant: str,
    paths: Sequence[str],
    kind: Kind | None = None,
    category: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> MediaAddResult:
    """Register every media file under ``paths`` for ``tenant``. A file that cannot be
    decoded (or is not of ``kind``) stops the add before anything is stored: a
    registry that silently lacks a recording would let it be found nowhere."""
    entries: list[tuple[str, str | None, Fingerprints]] = []
    result = MediaAddResult()
    for path in expand_media(paths):
        for record in read_records(path):
            if isinstance(record, Malformed):
                raise MediaError(f"{record.source}: record {record.line}: {record.problem}")
            fp = fingerprint(decode(record.data, record.id, kind))
            entries.append((record.id, category, fp))
            result.ids.append(record.id)
            result.landmarks += int(fp.landmarks.size)
            result.frames += int(fp.hashes.size)
            if progress is not None:
                progress(len(record.data))
    result.added, result.already = MediaRegistry(registry, keys).add(tenant, entries)
    return result


@dataclass
class MediaScanSummary:
    records: int = 0
    bytes: int = 0
    seconds_of_media: float = 0.0
    findings: int = 0
    malformed: int = 0
    seconds: float = 0.0
    by_kind: dict[str, int] = field(default_factory=lambda: {"audio": 0, "image": 0, "video": 0})

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "bytes": self.bytes,
            "seconds_of_media": round(self.seconds_of_media, 1),
            "findings": self.findings,
            "malformed": self.malformed,
            "seconds": round(self.seconds, 3),
            "by_kind": self.by_kind,
        }


def media_matcher(registry: str | Path, keys: KeyRing, config: MediaConfig) -> MediaMatcher:
    """The matcher of a registry's media, refusing a registry it cannot read."""
    media = MediaRegistry(registry, keys)
    if not media.exists():
        raise InputError(
            f"registry {registry}: no media registered (run `trainguard registry add "
            "--kind audio|image|video` first)"
        )
    matcher = MediaMatcher(media, keys, config)
    if not matcher.tenants:
        raise InputError(f"keys {keys.path}: no key of any tenant of the media in {media.path}")
    return matcher


def scan_record(
    matcher: MediaMatcher, record: MediaRecord
) -> tuple[dict[str, Any] | None, Fingerprints]:
    """The finding of one record (None when nothing registered is in it)."""
    fp = fingerprint(decode(record.data, record.id))
    spans = matcher.find(fp)
    if not spans:
        return None, fp
    return {
        "doc_id": record.id,
        "source": record.source,
        "kind": fp.kind,
        "duration": round(fp.duration, 2),
        "spans": spans,
    }, fp


@dataclass
class FileResult:
    """What scanning one file (a media file, tar shard or Parquet file) found."""

    findings: list[dict[str, Any]] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    records: int = 0
    bytes: int = 0
    seconds_of_media: float = 0.0
    by_kind: dict[str, int] = field(default_factory=lambda: {"audio": 0, "image": 0, "video": 0})


def scan_file(matcher: MediaMatcher, path: Path | str) -> FileResult:
    result = FileResult()
    for number, record in enumerate(read_records(path), 1):
        if isinstance(record, Malformed):
            result.malformed.append(record)
            continue
        result.bytes += len(record.data)
        try:
            finding, fp = scan_record(matcher, record)
        except MediaError as exc:
            problem = str(exc).removeprefix(f"{record.id}: ")
            where = "" if record.id == record.source else f"{record.id}: "
            result.malformed.append(Malformed(record.source, number, where + problem))
            continue
        result.records += 1
        result.by_kind[fp.kind] += 1
        result.seconds_of_media += fp.duration
        if finding is not None:
            result.findings.append(finding)
    return result


_WORKER: MediaMatcher | None = None
_WORKER_FOR: tuple[str, str, MediaConfig] | None = None


def _start_worker(registry: str, keys: str, config: MediaConfig) -> None:
    global _WORKER, _WORKER_FOR
    if (registry, keys, config) != _WORKER_FOR:  # a Ray worker keeps it across tasks
        _WORKER = media_matcher(registry, KeyRing(keys), config)
        _WORKER_FOR = (registry, keys, config)


def _scan_in_worker(path: Path | str) -> FileResult:
    assert _WORKER is not None
    return scan_file(_WORKER, path)


def _ray_results(
    files: list[Path | str], registry: str, keys: str, config: MediaConfig, workers: int
) -> Iterator[FileResult]:
    """Each file a Ray task (a worker builds the matcher once); results in file order."""
    import warnings

    from ..engine import start_ray

    ray = start_ray(workers)

    def run(item: dict[str, Any]) -> dict[str, Any]:
        _start_worker(registry, keys, config)
        result = _scan_in_worker(files[int(item["number"])])
        encoded = {**result.__dict__, "malformed": [m.__dict__ for m in result.malformed]}
        return {"number": item["number"], "result": json.dumps(encoded)}

    warnings.filterwarnings("ignore", message="The maximum number of concurrent tasks")
    rows = (
        ray.data.from_items(
            [{"number": n} for n in range(len(files))], override_num_blocks=len(files)
        )
        .map(run, compute=ray.data.TaskPoolStrategy(size=max(workers, 1)))
        .take_all()
    )
    for row in sorted(rows, key=lambda r: int(r["number"])):
        d = json.loads(row["result"])
        d["malformed"] = [Malformed(**m) for m in d["malformed"]]
        yield FileResult(**d)


def scan_media(
    paths: Sequence[str],
    registry: str | Path,
    keys: KeyRing,
    out: Path,
    config: MediaConfig | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    engine: str = "local",
) -> MediaScanSummary:
    """Scan every media record under ``paths``; findings as JSON lines in ``out``, in
    the order of the files whatever the engine and the number of workers (one file
    each: local processes, or Ray tasks)."""
    if workers < 1:
        raise InputError(f"--workers {workers}: must be at least 1")
    if engine not in ("local", "ray"):
        raise InputError(f"--engine {engine!r}: use local or ray")
    files = expand_media(paths)
    config = config or MediaConfig()
    matcher = media_matcher(registry, keys, config)  # refuses a registry it cannot read
    summary = MediaScanSummary()
    began = time.perf_counter()
    pool = None
    if engine == "ray":
        if any(is_url(f) and str(f).startswith("memory://") for f in files):
            raise InputError("--engine ray: memory:// URLs live in this process only")
        results: Iterator[FileResult] = _ray_results(
            files, str(registry), str(keys.path), config, workers
        )
    elif workers > 1 and len(files) > 1:
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(files)),
            initializer=_start_worker,
            initargs=(str(registry), str(keys.path), config),
        )
        results = pool.map(_scan_in_worker, files)
    else:
        results = (scan_file(matcher, f) for f in files)
    try:
        with out.open("w", encoding="utf-8") as sink:
            for result in results:
                for m in result.malformed:
                    summary.malformed += 1
                    if on_malformed is not None:
                        on_malformed(m)
                summary.records += result.records
                summary.bytes += result.bytes
                summary.seconds_of_media += result.seconds_of_media
                for kind, n in result.by_kind.items():
                    summary.by_kind[kind] += n
                for finding in result.findings:
                    summary.findings += 1
                    sink.write(json.dumps(finding, ensure_ascii=False) + "\n")
                if progress is not None:
                    progress(result.bytes)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    summary.seconds = time.perf_counter() - began
    return summary


def looks_like_media(sources: Sequence[str]) -> bool:
    """Whether ``sources`` are media, so that ``registry add`` and ``scan`` take them
    without --kind: media files, tar shards, or folders holding media files and
    nothing the text reader takes (a text corpus with a stray picture stays text;
    Parquet is text unless the kind says otherwise), and ``datasets`` folders whose
    features hold Audio or Image."""
    from .decode import MEDIA_SUFFIXES

    text = {".jsonl", ".json", ".ndjson", ".txt", ".text", ".parquet", ".csv", ".gz", ".zst"}
    for raw in sources:
        if "://" in raw:
            suffix = PurePosixPath(raw.rstrip("/")).suffix.lower()
            if suffix in MEDIA_SUFFIXES or suffix == ".tar":
                return True
            continue
        p = Path(raw)
        if p.is_dir():
            if any(_media_features(info) for info in p.rglob("dataset_info.json")):
                return True
            suffixes = {f.suffix.lower() for f in p.rglob("*") if f.is_file()}
            if suffixes & MEDIA_SUFFIXES and not suffixes & text:
                return True
        elif p.suffix.lower() in MEDIA_SUFFIXES or p.suffix.lower() == ".tar":
            return True
    return False


def _media_features(info: Path) -> bool:
    """Whether a ``datasets`` folder's dataset_info.json declares an Audio or Image
    column (the columns the media reader takes; a list of images is not read)."""
    try:
        features = json.loads(info.read_text(encoding="utf-8")).get("features")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(features, dict) and any(
        isinstance(f, dict) and f.get("_type") in ("Audio", "Image") for f in features.values()
    )
