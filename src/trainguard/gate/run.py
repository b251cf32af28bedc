"""A gate run: sources in, a gate output folder out, the run in the audit log.

``DIR/data/part-NNNNN.parquet`` (admitted rows of source N, the source's own
schema), ``DIR/manifest.parquet`` (one row per input record) and
``DIR/manifest.json`` (what went in, under which terms, the counts and the
Merkle root). Everything is written into a hidden sibling folder and renamed
into place at the end, so a failed or killed run leaves nothing half-written in
DIR, and the next run removes what a killed one left (:mod:`.workdir`).

Record ids are unique within a tenant in a run (:mod:`.unique`): a repeated
(tenant, id) anywhere in the input refuses the run before anything is published
or recorded.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..audit.merkle import MerkleFrontier
from ..errors import ConflictError, InputError
from ..sources import BATCH_ROWS, Source, expand_sources, read_batches
from ..timeutil import format_instant
from .core import ContentCheck, Gate, Lineage, categories_by_key, id_lists, text_column
from .leaves import LEAF_FORMAT, leaf_hashes
from .manifest import MANIFEST_SCHEMA, MANIFEST_WRITE_OPTIONS, read_manifest
from .mapping import ColumnMapping, ResolvedMapping
from .unique import UniqueIds
from .workdir import WorkDir, clean_leftovers

if TYPE_CHECKING:
    from ..store import Store

Progress = Callable[[Source, int], None]
ManifestSink = Callable[[pa.RecordBatch, np.ndarray], None]
# Runs gate_source for every file (into tmp/manifest-NNNNN.parquet) and returns
# the input summaries in order: how the Ray engine plugs in.
Engine = Callable[["Gate", Sequence[Source], Path, int], list[dict[str, Any]]]


@dataclass(frozen=True)
class GateResult:
    out_dir: Path
    records: int
    admitted: int
    root: str
    manifest: dict[str, Any]
    audit_index: int | None


def run_gate(
    store: Store,
    sources: Sequence[str],
    use: str,
    out_dir: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    at: datetime | None = None,
    replace: bool = False,
    lineage_dirs: Sequence[str | Path] = (),
    content_check: ContentCheck | None = None,
    scan_info: dict[str, Any] | None = None,
    fmt: Any = None,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
    engine: Engine | None = None,
) -> GateResult:
    """Gate every record of ``sources`` for ``use`` into ``out_dir``; record the run."""
    out = Path(out_dir)
    if out.parent.is_dir():
        # First: it may put back at ``out`` an earlier output a dead run moved aside.
        clean_leftovers(out.parent)
    _check_target(out, replace)
    files = expand_sources(sources, fmt)
    for f in files:
        if f.format == "text":
            raise InputError(
                f"{f.url}: plain text has no record columns; use parquet, jsonl or csv"
            )
    ctx = store.context()
    gate = Gate(ctx, use, at, mapping, content_check=content_check)
    gate.lineage = _lineage(gate, files, lineage_dirs, batch_rows)

    work = WorkDir(out)
    tmp = work.path
    unique = UniqueIds(tmp / ".ids")
    try:
        (tmp / "data").mkdir()
        frontier = MerkleFrontier()
        if engine is None:
            inputs = []
            with pq.ParquetWriter(
                tmp / "manifest.parquet", MANIFEST_SCHEMA, **MANIFEST_WRITE_OPTIONS
            ) as manifest_out:

                def sink(manifest: pa.RecordBatch, leaves: np.ndarray) -> None:
                    manifest_out.write_batch(manifest)
                    frontier.extend(leaves)
                    unique.add(manifest.column("tenant"), manifest.column("id"))

                for number, source in enumerate(files):
                    inputs.append(
                        gate_source(gate, source, number, tmp, sink, batch_rows, progress)
                    )
        else:
            inputs = engine(gate, files, tmp, batch_rows)
            _assemble_manifest(tmp, len(files), frontier, unique)
        _refuse_duplicates(unique, tmp, inputs)
        records = frontier.size
        admitted_total = sum(i["admitted"] for i in inputs)
        root = frontier.root().hex()
        policies = sorted(
            (ctx.policies.resolve(h).ref() for h in gate.policy_hashes),
            key=lambda r: (r["family"], r["effective_at"]),
        )
        manifest: dict[str, Any] = {
            "trainguard_version": _version(),
            "use": use,
            "at": format_instant(gate.at),
            "inputs": inputs,
            "mapping": mapping.model_dump(mode="json") if mapping else None,
            "policies": policies,
            "lineage": [str(Path(d)) for d in lineage_dirs],
            "scan": scan_info,
            "records": records,
            "admitted": admitted_total,
            "denied": records - admitted_total,
            "counts": [
                {"category": c, "allowed": a, "reason": r, "records": k}
                for (c, a, r), k in sorted(gate.counts.items())
            ],
            "merkle": {
                "algorithm": "RFC 9162 SHA-256",
                "leaf": LEAF_FORMAT,
                "tree_size": records,
                "root": root,
            },
        }
        (tmp / "manifest.json").write_text(
            json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        audit_index = store.audit.record(
            "gate.run",
            {
                "out": str(out.resolve()),
                "use": use,
                "at": manifest["at"],
                "records": records,
                "admitted": admitted_total,
                "root": root,
                "inputs": [{"url": i["url"], "sha256": i["sha256"]} for i in inputs],
                "policies": [p["hash"] for p in policies],
            },
        )
        work.publish()
    except BaseException:
        unique.close()
        work.discard()
        raise
    return GateResult(out, records, admitted_total, root, manifest, audit_index)


def gate_source(
    gate: Gate,
    source: Source,
    number: int,
    tmp: Path,
    sink: ManifestSink,
    batch_rows: int = BATCH_ROWS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Gate one file: admitted rows to tmp/data/part-NNNNN.parquet, manifest rows to sink."""
    rows = admitted = 0
    writer: pq.ParquetWriter | None = None
    schema: pa.Schema | None = None
    m: ResolvedMapping | None = None
    try:
        for batch in read_batches(source, batch_rows, gate.text_columns):
            if schema is None:
                schema, m = batch.schema, gate.resolve(batch.schema, source.url)
                writer = pq.ParquetWriter(tmp / "data" / f"part-{number:05d}.parquet", schema)
            batch = _conform(batch, schema, source)
            result = gate.run(batch, source.url, m)
            sink(result.manifest, result.leaves)
            assert writer is not None
            writer.write_batch(result.admitted)
            rows += batch.num_rows
            admitted += result.admitted.num_rows
            # Hand freed batch buffers back to the OS: without it the allocator's
            # retained pages grow with the input, not with the batch.
            pa.default_memory_pool().release_unused()
            if progress is not None:
                progress(source, batch.num_rows)
    finally:
        if writer is not None:
            writer.close()
    return {
        "url": source.url,
        "format": source.format,
        "sha256": source.sha256(),
        "bytes": source.size(),
        "records": rows,
        "admitted": admitted,
        "content_columns": list(m.content) if m else [],
    }


def part_manifest_path(tmp: Path, number: int) -> Path:
    return tmp / f"manifest-{number:05d}.parquet"


def _assemble_manifest(tmp: Path, parts: int, frontier: MerkleFrontier, unique: UniqueIds) -> None:
    """Concatenate per-file manifests row group by row group: the same batches, the
    same bytes as a run that wrote them in one go."""
    with pq.ParquetWriter(
        tmp / "manifest.parquet", MANIFEST_SCHEMA, **MANIFEST_WRITE_OPTIONS
    ) as out:
        for number in range(parts):
            path = part_manifest_path(tmp, number)
            part = pq.ParquetFile(path)
            for i in range(part.num_row_groups):
                group = part.read_row_group(i)
                for batch in group.to_batches():
                    out.write_batch(batch)
                    frontier.extend(leaf_hashes(batch))
                    unique.add(batch.column("tenant"), batch.column("id"))
            path.unlink()


def _refuse_duplicates(unique: UniqueIds, tmp: Path, inputs: Sequence[dict[str, Any]]) -> None:
    """Raise InputError naming the first (tenant, id) two input rows share, with the
    file and row of each (rows counted from 0 in each file)."""
    suspects = unique.suspects()
    shutil.rmtree(tmp / ".ids", ignore_errors=True)
    if not len(suspects):
        return
    manifest = pq.ParquetFile(tmp / "manifest.parquet")
    rows = (
        (b.column("tenant"), b.column("id"))
        for b in manifest.iter_batches(batch_size=BATCH_ROWS, columns=["tenant", "id"])
    )
    dup = unique.first_duplicate(rows, suspects)
    if dup is None:
        return  # digests collided; the records differ
    starts = np.cumsum([0] + [int(i["records"]) for i in inputs])

    def where(position: int) -> str:
        number = int(np.searchsorted(starts, position, side="right")) - 1
        return f"{inputs[number]['url']} row {position - int(starts[number])}"

    raise InputError(
        f"record id {dup.id!r} of tenant {dup.tenant!r} appears twice: {where(dup.first)} "
        f"and {where(dup.second)}; ids must be unique within a tenant"
    )


def _check_target(out: Path, replace: bool) -> None:
    if not out.exists():
        if not out.parent.is_dir():
            raise InputError(f"--out {out}: the folder {out.parent} does not exist")
        return
    if not replace:
        raise ConflictError(f"--out {out} already exists; pass --replace to overwrite it")
    if not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists()):
        raise ConflictError(f"--out {out} is not a gate output folder; refusing to replace it")


def _conform(batch: pa.RecordBatch, schema: pa.Schema, source: Source) -> pa.RecordBatch:
    """Later batches of JSONL or CSV may infer other types: hold them to the first's."""
    if batch.schema.equals(schema):
        return batch
    try:
        return batch.select(schema.names).cast(schema)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise InputError(f"{source.url}: rows do not keep one schema ({exc})") from None


def _lineage(
    gate: Gate, files: Sequence[Source], lineage_dirs: Sequence[str | Path], batch_rows: int
) -> Lineage | None:
    """First pass, only when some input maps ``derived_from``: the categories and
    sources of every record of the run (of every input, so a source may be in any
    file), by (tenant, id)."""
    lineage = Lineage(known=dict(categories_by_key(read_manifest(d)[1] for d in lineage_dirs)))
    if not any(_maps_derived_from(gate, source, batch_rows) for source in files):
        return lineage if lineage_dirs else None
    for source in files:
        m: ResolvedMapping | None = None
        for batch in read_batches(source, batch_rows, gate.text_columns):
            m = m or gate.resolve(batch.schema, source.url)
            n = batch.num_rows
            lineage.add(
                text_column(batch, m.tenant, source.url, "tenant").to_pylist(),
                text_column(batch, m.id, source.url, "id").to_pylist(),
                gate.own_categories(batch, m, source.url).to_pylist(),
                id_lists(batch, m.derived_from, n, source.url).to_pylist()
                if m.derived_from
                else [None] * n,
            )
    return lineage


def _maps_derived_from(gate: Gate, source: Source, batch_rows: int) -> bool:
    for batch in read_batches(source, batch_rows, gate.text_columns):
        return gate.resolve(batch.schema, source.url).derived_from is not None
    return False


def _version() -> str:
    from .. import __version__

    return __version__
