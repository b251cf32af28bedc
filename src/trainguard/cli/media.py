"""registry add and scan for audio, images and video: parse, call, format."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from ..scan.corpus import Malformed
from ..scan.keys import KeyRing
from ..scan.media import KINDS, MediaConfig, MediaRegistry, register_media, scan_media
from ..scan.registry import Registry
from ._app import console, fail_line

KIND_CHOICES = ("text", *KINDS, "media")


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KIND_CHOICES:
        raise InputError(f"--kind {kind!r} is not one of {', '.join(KIND_CHOICES)}")
    return kind


def add(
    sources: list[str], tenant: str, kind: str | None, category: str | None, reg: Registry,
    progress: Callable[[int], None], record: Callable[[str, dict[str, Any]], str],
) -> None:  # fmt: skip
    """`registry add` of audio, image or video files."""
    wanted: Any = kind if kind in KINDS else None
    result = register_media(reg.path, reg.keys, tenant, sources, wanted, category, progress)
    recorded = record(
        "registry.add",
        {
            "registry": str(reg.path.resolve()),
            "tenant": tenant,
            "category": category,
            "kind": kind or "media",
            "sources": list(sources),
            "added": result.added,
            "already": result.already,
            "fingerprints": result.landmarks + result.frames,
            "item_ids_sha256": hashlib.sha256(
                "\n".join(sorted(result.ids)).encode("utf-8")
            ).hexdigest(),
        },
    )
    console.print(
        f"registered {result.added:,} media items for tenant {tenant!r} "
        f"({result.landmarks:,} audio landmarks, {result.frames:,} picture hashes); "
        f"{result.already:,} already registered{recorded}",
        markup=False,
    )


def scan(
    paths: list[str], out: Path, reg: Registry, fail_on_findings: bool,
    progress: Callable[[int], None], on_malformed: Callable[[Malformed], None],
    record: Callable[[str, dict[str, Any]], str], keys: KeyRing, workers: int = 1,
    engine: str = "local",
) -> None:  # fmt: skip
    """`scan` of a media corpus."""
    summary = scan_media(
        paths, reg.path, keys, out, MediaConfig(), on_malformed, progress, workers, engine
    )
    recorded = record(
        "scan.run",
        {
            "inputs": list(paths),
            "registry": str(reg.path.resolve()),
            "kind": "media",
            "documents": summary.records,
            "bytes": summary.bytes,
            "findings": summary.findings,
            "malformed": summary.malformed,
            "findings_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        },
    )
    hours = summary.seconds_of_media / 3600
    console.print(
        f"scanned {summary.records:,} media records ({summary.by_kind['audio']:,} audio, "
        f"{summary.by_kind['image']:,} images, {summary.by_kind['video']:,} videos; "
        f"{hours:,.2f} h of audio/video) in {summary.seconds:.1f} s ({engine}, "
        f"{workers} worker(s)): "
        f"{summary.findings:,} with "
        f"registered content, {summary.malformed:,} malformed records skipped; findings in "
        f"{out}{recorded}",
        markup=False,
    )
    if fail_on_findings and summary.findings:
        fail_line(f"{summary.findings} media records hold registered customer content")
        raise typer.Exit(1)


def stats(reg: Registry) -> dict[str, Any]:
    """`registry stats`: the text registry's, with a "media" part when media is registered."""
    media = MediaRegistry(reg.path, reg.keys)
    if not media.exists():
        return reg.require().stats()
    out: dict[str, Any] = reg.stats() if reg.exists() else {"path": str(reg.path)}
    out["media"] = media.stats()
    return out


def remove(
    reg: Registry, tenant: str, item: str, record: Callable[[str, dict[str, Any]], str]
) -> bool:
    """`registry remove` of a media item; False when ``item`` is not one (text, then)."""
    media = MediaRegistry(reg.path, reg.keys)
    if not media.exists() or not any(
        i.tenant == tenant and i.id == item for i in media.items().values()
    ):
        return False
    removed = media.remove(tenant, item)
    recorded = record(
        "registry.remove",
        {"registry": str(reg.path.resolve()), "tenant": tenant, "item": item, "kind": removed.kind},
    )
    console.print(
        f"removed {removed.kind} item {removed.id!r} of tenant {tenant!r} "
        f"({removed.landmarks + removed.frames:,} fingerprints){recorded}",
        markup=False,
    )
    return True


def compact(reg: Registry, record: Callable[[str, dict[str, Any]], str]) -> bool:
    """`registry compact` of the media part; False when there is none."""
    media = MediaRegistry(reg.path, reg.keys)
    if not media.exists():
        return False
    counts = media.compact()
    recorded = record(
        "registry.compact", {"registry": str(reg.path.resolve()), "kind": "media", **counts}
    )
    console.print(
        f"media: {counts['files_removed']} leftover files removed "
        f"({counts['bytes_freed']:,} bytes), {counts['item_lines_dropped']} uncommitted "
        f"item lines dropped{recorded}",
        markup=False,
    )
    return True
