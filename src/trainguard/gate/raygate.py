"""The gate on Ray Data: the same per-file function, mapped over files on a cluster.

Each file is one shard. A Ray worker gates it with a copy of the same
:class:`Gate` (same context, same time of use) and writes its admitted rows and
its manifest rows into the run's temporary folder, which must therefore be on
storage every worker sees (a shared file system on a real cluster). The
driver then concatenates the manifests in input order, so the output is
byte-for-byte what the local engine writes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq

from ..errors import InputError
from ..sources import Source
from .core import Gate
from .manifest import MANIFEST_SCHEMA, MANIFEST_WRITE_OPTIONS
from .run import GateResult, gate_source, part_manifest_path, run_gate

if TYPE_CHECKING:
    from ..store import Store


def _require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--engine ray needs Ray: pip install 'trainguard[ray]'") from None
    return ray


def ray_engine(
    gate: Gate, files: Sequence[Source], tmp: Path, batch_rows: int
) -> list[dict[str, Any]]:
    ray = _require_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)

    def one(item: dict[str, Any]) -> dict[str, Any]:
        number = int(item["number"])
        counts_before = dict(gate.counts)
        try:
            with pq.ParquetWriter(
                part_manifest_path(tmp, number), MANIFEST_SCHEMA, **MANIFEST_WRITE_OPTIONS
            ) as out:
                summary = gate_source(
                    gate, files[number], number, tmp,
                    lambda m, _leaves: out.write_batch(m), batch_rows,
                )  # fmt: skip
        except InputError as exc:
            # Returned, not raised: Ray Data does not carry a worker's exception back
            # (its UserCodeException has no cause), and the user must see this line.
            return {
                "number": number,
                "error": str(exc),
                "summary": "",
                "counts": "",
                "policies": "",
            }
        counts = [[*k, v - counts_before.get(k, 0)] for k, v in gate.counts.items()]
        return {
            "number": number,
            "error": "",
            "summary": json.dumps(summary),
            "counts": json.dumps(counts),
            "policies": json.dumps(sorted(gate.policy_hashes)),
        }

    items = [{"number": i} for i in range(len(files))]
    try:
        # One block per file, so every file can be its own task.
        rows = ray.data.from_items(items, override_num_blocks=len(items)).map(one).take_all()
    except Exception as exc:  # a worker's InputError arrives wrapped by Ray
        cause = _root_cause(exc)
        if isinstance(cause, InputError):
            raise type(cause)(str(cause)) from None
        raise
    rows.sort(key=lambda r: r["number"])
    for r in rows:
        if r["error"]:
            raise InputError(r["error"])
    for r in rows:
        for category, allowed, reason, k in json.loads(r["counts"]):
            if k:
                gate.counts[(category, allowed, reason)] += k
        gate.policy_hashes.update(json.loads(r["policies"]))
    return [json.loads(r["summary"]) for r in rows]


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or exc.__cause__
        if inner is None:
            break
        exc = inner
    return exc


def run_gate_on_ray(
    store: Store, sources: Sequence[str], use: str, out_dir: str | Path, **options: Any
) -> GateResult:
    """:func:`run_gate` (same options) with the files gated on Ray Data."""
    _require_ray()
    return run_gate(store, sources, use, out_dir, engine=ray_engine, **options)
