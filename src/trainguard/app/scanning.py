"""Scanning a corpus for registered customer content, and the scan's audit entry.

``trainguard scan`` and the service's corpus scan both call :func:`scan_files`:
the findings file is written by the scan engine (each finding shaped by
:func:`trainguard.scan.findings.finding_json`), and the ``scan.run`` entry —
what was scanned, against which registry, under which settings, what was
found, and the findings file's SHA-256 — is built here, once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..scan.corpus import Fields, Malformed
from ..scan.engine import ScanOptions, ScanSummary, ShardResult, scan_corpus
from ..scan.matcher import ScanConfig
from ..scan.registry import Registry
from .access import OPERATOR, Principal
from .decisions import Append

if TYPE_CHECKING:
    from ..scan.media import MediaScanSummary
    from ..sources import Format


def scan_files(
    who: Principal,
    registry: Registry,
    paths: Sequence[str],
    out: Path,
    config: ScanConfig,
    fields: Fields,
    *,
    fmt: Format | None = None,
    engine: str = "local",
    workers: int = 1,
    skip_malformed: bool = False,
    on_shard: Callable[[ShardResult, int], None] | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
    append: Append | None = None,
) -> tuple[ScanSummary, int | None]:
    """Scan every document under ``paths`` against ``registry``, write the findings
    (JSON lines) to ``out``, and log the run with ``append`` when there is a log.

    Only the operator (or the local one) scans files: the scan reads whatever the
    paths name, and its findings name every tenant's content."""
    who.require(*OPERATOR)
    options = ScanOptions(str(registry.path), str(registry.keys.path), config, fields)
    summary = scan_corpus(
        list(paths),
        options,
        out,
        fmt=fmt,
        engine=engine,
        workers=workers,
        on_shard=on_shard,
        on_malformed=on_malformed,
    )
    if append is None:
        return summary, None
    entry = scan_entry(paths, registry, summary, out, config, skip_malformed)
    return summary, append("scan.run", entry)


def scan_entry(
    paths: Sequence[str],
    registry: Registry,
    summary: ScanSummary,
    out: Path,
    config: ScanConfig,
    skip_malformed: bool,
) -> dict[str, Any]:
    """What the log keeps of a scan: never the content, the counts and the findings' digest."""
    return {
        "inputs": list(paths),
        "registry": str(registry.path.resolve()),
        "documents": summary.documents,
        "bytes": summary.bytes,
        "findings": summary.findings,
        "malformed": summary.malformed,
        "malformed_by_reason": summary.malformed_by_reason,
        "skip_malformed": skip_malformed,
        "findings_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "min_confidence_permille": round(config.min_confidence * 1000),
        "near_duplicates": config.near_duplicates,
    }


def scan_media_files(
    who: Principal,
    registry: Registry,
    paths: Sequence[str],
    out: Path,
    *,
    engine: str = "local",
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_malformed: Callable[[Malformed], None] | None = None,
    append: Append | None = None,
) -> tuple[MediaScanSummary, int | None]:
    """Scan every audio, image and video record under ``paths`` against the media
    part of ``registry``, write the findings to ``out``, and log the
    run with ``append`` when there is a log. The operator's, as for text."""
    from ..scan.media import MediaConfig, scan_media

    who.require(*OPERATOR)
    summary = scan_media(
        paths,
        registry.path,
        registry.keys,
        out,
        MediaConfig(),
        on_malformed,
        progress,
        workers,
        engine,
    )
    if append is None:
        return summary, None
    entry = {
        "inputs": list(paths),
        "registry": str(registry.path.resolve()),
        "kind": "media",
        "documents": summary.records,
        "bytes": summary.bytes,
        "findings": summary.findings,
        "malformed": summary.malformed,
        "findings_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
    }
    return summary, append("scan.run", entry)
