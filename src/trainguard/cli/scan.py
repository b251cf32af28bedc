"""registry and scan commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..errors import InputError
from ..limits import MAX_WORKERS
from ._app import (
    KEYS_HELP,
    REGISTRY_HELP,
    app,
    command_group,
    console,
    err_console,
    fail_line,
    real_console,
    recording_store,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..scan.corpus import Malformed
    from ..scan.engine import ShardResult
    from ..scan.registry import Registry

registry_app = command_group("Keyed fingerprints of customer content.")
app.add_typer(registry_app, name="registry")


def _format(fmt: str | None) -> Any:
    from ..sources import FORMATS

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    return fmt


def _bytes_progress() -> Progress:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=real_console(err_console),
        transient=True,
        disable=not err_console.is_terminal,
    )


def _report_malformed(m: Malformed) -> None:
    err_console.print(
        f"trainguard: warning: {m.source}:{m.line}: {m.problem}; skipped", markup=False
    )


def _append(ctx: typer.Context) -> Callable[[str, dict[str, Any]], int] | None:
    """How to append to the audit log when there is a store (None: there is none)."""
    store = recording_store(ctx)
    return store.audit.record if store is not None else None


def _recorded_at(index: int | None) -> str:
    if index is None:
        return " (no store: not recorded in an audit log)"
    return f" (audit entry {index})"


def _is_media(sources: list[str], kind: str | None) -> bool:
    """Audio, images and video go to the media registry (scan/media); text stays here."""
    from ..scan.media.run import looks_like_media
    from . import media

    media.check_kind(kind)
    return kind not in (None, "text") or (kind is None and looks_like_media(sources))


@registry_app.command("add")
def registry_add(
    ctx: typer.Context,
    sources: list[str] = typer.Argument(..., help="Files, folders, globs or fsspec URLs."),
    tenant: str = typer.Option(..., "--tenant", help="Whose content this is."),
    category: str | None = typer.Option(
        None, "--category", help="Category of these records (a taxonomy key)."
    ),
    fmt: str | None = typer.Option(None, "--format", help="jsonl, parquet or text."),
    id_field: str | None = typer.Option(
        None, "--id-field", help="Default: id, doc_id, meeting_id; else a keyed digest."
    ),
    text_field: str | None = typer.Option(
        None,
        "--text-field",
        help="Text, or a list of transcript turns. Default: text, content, turns.",
    ),
    kind: str | None = typer.Option(
        None, "--kind", help="text, audio, image, video (default: from the files)."
    ),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Register customer content: keyed fingerprints are stored, never the content."""
    from ..app.access import Principal
    from ..app.registry import add_files, open_registry
    from ..scan.corpus import Fields
    from ..scan.keys import KeyRing
    from ..scan.registry import Registry
    from . import media

    if _is_media(sources, kind):
        reg = Registry(registry, KeyRing(keys))
        with _bytes_progress() as bar:
            task = bar.add_task("registering", total=None)
            media.add(sources, tenant, kind, category, reg, lambda n: bar.advance(task, n),
                      _append(ctx))  # fmt: skip
        return
    reg = open_registry(registry, keys, recording_store(ctx))
    with _bytes_progress() as bar:
        task = bar.add_task("registering", total=None)
        r = add_files(
            Principal.local(), reg, tenant, sources, Fields(text_field, id_field), category,
            _format(fmt), progress=lambda n: bar.advance(task, n), on_malformed=_report_malformed,
        )  # fmt: skip
    result = r.added
    console.print(
        f"registered {result.added:,} items for tenant {tenant!r} ({result.fingerprints:,} "
        f"fingerprints); {result.already:,} already registered, {result.empty:,} too short "
        f"to fingerprint, {len(r.malformed):,} malformed records skipped{_recorded(reg)}",
        markup=False,
    )


def _recorded(reg: Registry) -> str:
    return _recorded_at(reg.last_audit_entry)


@registry_app.command("stats")
def registry_stats(
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Tenants, items, fingerprints and bytes per fingerprint (JSON)."""
    from ..scan.keys import KeyRing
    from ..scan.registry import Registry
    from . import media

    reg = Registry(registry, KeyRing(keys))
    console.print(json.dumps(media.stats(reg), indent=2), markup=False)


@registry_app.command("remove")
def registry_remove(
    ctx: typer.Context,
    item: str = typer.Argument(..., help="The registered item id."),
    tenant: str = typer.Option(..., "--tenant"),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Delete one item's fingerprints (its tenant's segments are rewritten without them)."""
    from ..app.access import Principal
    from ..app.registry import open_registry, remove_item
    from . import media

    reg = open_registry(registry, keys, recording_store(ctx))
    if media.remove(reg, tenant, item, reg.store.audit.record if reg.store else None):
        return
    removed = remove_item(Principal.local(), reg, tenant, item)
    console.print(
        f"removed item {removed.id!r} of tenant {tenant!r} "
        f"({removed.ngrams + removed.shingles:,} fingerprints){_recorded(reg)}",
        markup=False,
    )


@registry_app.command("compact")
def registry_compact(
    ctx: typer.Context,
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Merge each tenant's segments into one; remove what killed media writes left."""
    from ..scan.keys import KeyRing
    from ..scan.registry import Registry
    from . import media

    reg = Registry(registry, KeyRing(keys), recording_store(ctx))
    if media.compact(reg, reg.store.audit.record if reg.store else None) and not reg.exists():
        return
    r = reg.compact()
    console.print(
        f"segments: {r['segments_before']} -> {r['segments_after']}{_recorded(reg)}",
        markup=False,
    )


@registry_app.command("verify")
def registry_verify(
    ctx: typer.Context,
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Check the registry's files, its MAC and the audit log's last entry of it; exit 1 if not.

    Every file against the checksum registry.json recorded; registry.json's MAC when
    the platform key is at hand; with a store (--db), that the registry is in the
    state the log's latest entry of it recorded (not edited or rolled back since)."""
    from ..scan.keys import KeyRing
    from ..scan.registry import Registry
    from ..scan.verify import verify_registry

    report = verify_registry(Registry(registry, KeyRing(keys)), recording_store(ctx))
    console.print(report.summary(), markup=False)


def _inside(url: str, folder: Path) -> bool:
    """Whether a local file lies in ``folder``, or in any registry (a folder holding a
    registry's own files): those hold fingerprints, never public text."""
    if "://" in url:
        return False
    try:
        path = Path(url).resolve()
        return path.is_relative_to(folder) or any(
            (parent / "registry.json").exists() or (parent / "reference.npy").exists()
            for parent in path.parents
        )
    except (OSError, ValueError):
        return False


@registry_app.command("reference")
def registry_reference(
    ctx: typer.Context,
    sources: list[str] = typer.Argument(..., help="Known public text (jsonl, parquet or text)."),
    fmt: str | None = typer.Option(None, "--format"),
    text_field: str | None = typer.Option(None, "--text-field"),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Add public text whose 13-word windows do not count as distinctive in matches."""
    from ..scan.corpus import Fields, Shard, ShardReport, read_documents
    from ..scan.keys import KeyRing
    from ..scan.registry import Registry
    from ..sources import expand_sources

    reg = Registry(registry, KeyRing(keys), recording_store(ctx))
    # The registry's and the keys' own files are never public text: a folder that
    # holds them (./, say) would otherwise feed the reference back into itself.
    own = (reg.path.resolve(), reg.keys.path.resolve())
    files = [
        f
        for f in expand_sources(sources, _format(fmt), default_format="text")
        if not any(_inside(f.url, folder) for folder in own)
    ]

    def texts() -> Iterator[str]:
        for i, source in enumerate(files):
            for doc in read_documents(Shard(i, source), Fields(text_field), ShardReport()):
                yield doc.text

    n = reg.add_reference(texts())
    console.print(f"reference corpus: {n:,} distinct 13-word windows{_recorded(reg)}", markup=False)


@app.command("scan")
def scan_cmd(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        ..., help="Files, folders, globs or fsspec URLs (jsonl, parquet, text; .gz/.zst too)."
    ),
    out: Path = typer.Option(..., "--out", help="Findings, one JSON object per line."),
    fmt: str | None = typer.Option(None, "--format", help="jsonl, parquet or text."),
    text_field: str | None = typer.Option(None, "--text-field"),
    id_field: str | None = typer.Option(None, "--id-field"),
    workers: int = typer.Option(1, "--workers", help="Processes (local) or tasks (ray)."),
    engine: str = typer.Option("local", "--engine", help="local or ray."),
    fail_on_findings: bool = typer.Option(
        False,
        "--fail-on-findings",
        help="Exit 1 when anything was found, or a record could not be read.",
    ),
    skip_malformed: bool = typer.Option(
        False,
        "--skip-malformed",
        help="With --fail-on-findings: records that cannot be read do not fail the scan.",
    ),
    min_confidence: float = typer.Option(
        0.5, "--min-confidence", help="Report spans whose distinctive share is at least this."
    ),
    near_duplicates: bool = typer.Option(
        True, "--near-duplicates/--no-near-duplicates", help="Also look for lightly edited copies."
    ),
    kind: str | None = typer.Option(
        None, "--kind", help="text or media (audio, image, video); default: from the files."
    ),
    registry: Path | None = typer.Option(None, "--registry", help=REGISTRY_HELP),
    keys: Path | None = typer.Option(None, "--keys", help=KEYS_HELP),
) -> None:
    """Find registered customer content in a corpus."""
    from ..app.access import Principal
    from ..app.scanning import scan_files
    from ..scan.corpus import Fields
    from ..scan.keys import KeyRing
    from ..scan.matcher import ScanConfig
    from ..scan.registry import Registry
    from . import media

    if skip_malformed and not fail_on_findings:
        raise InputError("--skip-malformed: only means something with --fail-on-findings")
    if _is_media(paths, kind):
        reg = Registry(registry, KeyRing(keys))
        with _bytes_progress() as bar:
            task = bar.add_task("scanning", total=None)
            media.scan(paths, out, reg, fail_on_findings, lambda n: bar.advance(task, n),
                       _report_malformed, _append(ctx), workers, engine)  # fmt: skip
        return
    if not 0.0 <= min_confidence <= 1.0:
        raise InputError(f"--min-confidence {min_confidence}: must be between 0 and 1")
    if not 1 <= workers <= MAX_WORKERS:
        raise InputError(f"--workers {workers}: must be between 1 and {MAX_WORKERS:,}")
    reg = Registry(registry, KeyRing(keys))
    unreadable = reg.tenants_without_keys()
    if unreadable and len(unreadable) < len(reg.tenants()):  # none at all: refused below
        err_console.print(
            f"trainguard: warning: keys {reg.keys.path}: no key of {len(unreadable)} tenant(s) "
            f"of registry {reg.path} (e.g. {unreadable[0]!r}); their content cannot be found",
            markup=False,
        )
    store = recording_store(ctx)
    with _bytes_progress() as bar:
        task = bar.add_task("scanning", total=None)

        def on_shard(result: ShardResult, total: int) -> None:
            bar.advance(task, result.report.bytes)

        summary, index = scan_files(
            Principal.local(),
            reg,
            paths,
            out,
            ScanConfig(min_confidence=min_confidence, near_duplicates=near_duplicates),
            Fields(text_field, id_field),
            fmt=_format(fmt),
            engine=engine,
            workers=workers,
            skip_malformed=skip_malformed,
            on_shard=on_shard,
            on_malformed=_report_malformed,
            append=store.audit.record if store is not None else None,
        )
    recorded = _recorded_at(index)
    console.print(
        f"scanned {summary.documents:,} documents, {summary.bytes / 1e6:,.1f} MB in "
        f"{summary.seconds:.1f} s ({summary.mb_per_s:,.1f} MB/s, {engine}, {workers} worker(s)): "
        f"{summary.findings:,} with registered content, {summary.malformed:,} malformed "
        f"records not scanned{_by_reason(summary.malformed_by_reason)}; findings in "
        f"{out}{recorded}",
        markup=False,
    )
    failure = summary.failure(skip_malformed=skip_malformed) if fail_on_findings else None
    if failure:
        fail_line(failure)
        raise typer.Exit(1)


def _by_reason(counts: dict[str, int]) -> str:
    return f" ({', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))})" if counts else ""
