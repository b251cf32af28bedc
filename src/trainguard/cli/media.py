"""registry add, remove and compact, and scan, for audio, images and video: parse,
call the application layer (which builds and logs the audit entries), format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from ..errors import InputError
from ..scan.corpus import Malformed
from ..scan.media import KINDS, MediaRegistry
from ..scan.registry import Registry
from ._app import console, fail_line

KIND_CHOICES = ("text", *KINDS, "media")

Append = Callable[[str, dict[str, Any]], int]


def check_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KIND_CHOICES:
        raise InputError(f"--kind {kind!r} is not one of {', '.join(KIND_CHOICES)}")
    return kind


def recorded_at(index: int | None) -> str:
    if index is None:
        return " (no store: not recorded in an audit log)"
    return f" (audit entry {index})"


def add(
    sources: list[str], tenant: str, kind: str | None, category: str | None, reg: Registry,
    progress: Callable[[int], None], append: Append | None,
) -> None:  # fmt: skip
    """`registry add` of audio, image or video files."""
    from ..app.access import Principal
    from ..app.registry import add_media

    result, index = add_media(
        Principal.local(), reg, tenant, sources, kind, category, progress=progress, append=append
    )
    console.print(
        f"registered {result.added:,} media items for tenant {tenant!r} "
        f"({result.landmarks:,} audio landmarks, {result.frames:,} picture hashes); "
        f"{result.already:,} already registered{recorded_at(index)}",
        markup=False,
    )


def scan(
    paths: list[str], out: Path, reg: Registry, fail_on_findings: bool,
    progress: Callable[[int], None], on_malformed: Callable[[Malformed], None],
    append: Append | None, workers: int = 1, engine: str = "local",
) -> None:  # fmt: skip
    """`scan` of a media corpus."""
    from ..app.access import Principal
    from ..app.scanning import scan_media_files

    summary, index = scan_media_files(
        Principal.local(), reg, paths, out, engine=engine, workers=workers, progress=progress,
        on_malformed=on_malformed, append=append,
    )  # fmt: skip
    hours = summary.seconds_of_media / 3600
    console.print(
        f"scanned {summary.records:,} media records ({summary.by_kind['audio']:,} audio, "
        f"{summary.by_kind['image']:,} images, {summary.by_kind['video']:,} videos; "
        f"{hours:,.2f} h of audio/video) in {summary.seconds:.1f} s ({engine}, "
        f"{workers} worker(s)): "
        f"{summary.findings:,} with "
        f"registered content, {summary.malformed:,} malformed records skipped; findings in "
        f"{out}{recorded_at(index)}",
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


def remove(reg: Registry, tenant: str, item: str, append: Append | None) -> bool:
    """`registry remove` of a media item; False when ``item`` is not one (text, then)."""
    from ..app.access import Principal
    from ..app.registry import media_item_of, remove_media

    if not media_item_of(reg, tenant, item):
        return False
    removed, index = remove_media(Principal.local(), reg, tenant, item, append=append)
    console.print(
        f"removed {removed.kind} item {removed.id!r} of tenant {tenant!r} "
        f"({removed.landmarks + removed.frames:,} fingerprints){recorded_at(index)}",
        markup=False,
    )
    return True


def compact(reg: Registry, append: Append | None) -> bool:
    """`registry compact` of the media part; False when there is none."""
    from ..app.registry import compact_media

    done = compact_media(reg, append=append)
    if done is None:
        return False
    counts, index = done
    console.print(
        f"media: {counts['files_removed']} leftover files removed "
        f"({counts['bytes_freed']:,} bytes), {counts['item_lines_dropped']} uncommitted "
        f"item lines dropped{recorded_at(index)}",
        markup=False,
    )
    return True
