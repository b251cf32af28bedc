"""Gate in-memory frames: Arrow tables, pandas and polars DataFrames, Ray Data blocks."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..decision.decide import DecisionContext
from .core import Gate, Lineage
from .mapping import ColumnMapping
from .unique import refuse_duplicates

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]
    import polars as pl


def gate_table(
    ctx: DecisionContext,
    table: pa.Table | pa.RecordBatch,
    use: str,
    at: datetime | None = None,
    mapping: ColumnMapping | None = None,
    lineage: Lineage | None = None,
) -> tuple[pa.Table, pa.Table]:
    """(admitted rows, manifest rows) of an Arrow table. A (tenant, id) held by two rows
    is refused (InputError), as in a gate run."""
    result = Gate(ctx, use, at, mapping, lineage).run(table, "table")
    _refuse_duplicates(result.manifest, "table")
    return pa.Table.from_batches([result.admitted]), pa.Table.from_batches([result.manifest])


def gate_pandas(
    ctx: DecisionContext,
    frame: pd.DataFrame,
    use: str,
    at: datetime | None = None,
    mapping: ColumnMapping | None = None,
) -> tuple[pd.DataFrame, pa.Table]:
    """(admitted rows as a DataFrame, manifest rows) of a pandas DataFrame."""
    admitted, manifest = gate_table(
        ctx, pa.Table.from_pandas(frame, preserve_index=False), use, at, mapping
    )
    return admitted.to_pandas(), manifest


def gate_polars(
    ctx: DecisionContext,
    frame: pl.DataFrame,
    use: str,
    at: datetime | None = None,
    mapping: ColumnMapping | None = None,
) -> tuple[pl.DataFrame, pa.Table]:
    """(admitted rows as a polars DataFrame, manifest rows) of a polars DataFrame."""
    import polars as pl

    admitted, manifest = gate_table(ctx, frame.to_arrow(), use, at, mapping)
    out = pl.from_arrow(admitted)
    assert isinstance(out, pl.DataFrame)
    return out, manifest


class ray_gate:  # used like a function: ds.map_batches(ray_gate(...))
    """A picklable callable for ``Dataset.map_batches(..., batch_format="pyarrow")``.

    Returns the admitted rows of each block. The time of use is fixed when the
    callable is made, so every block is decided at the same instant. A (tenant, id)
    held by two rows of one block is refused; blocks are mapped independently, so
    across blocks only :func:`~trainguard.gate.raygate.run_gate_on_ray` (or the CLI's
    ``--engine ray``) checks it, and derived records find their sources only within
    their block.
    """

    def __init__(
        self,
        ctx: DecisionContext,
        use: str,
        at: datetime | None = None,
        mapping: ColumnMapping | None = None,
    ) -> None:
        self._gate = Gate(ctx, use, at, mapping)

    def __call__(self, block: Any) -> pa.Table:
        table = block if isinstance(block, pa.Table) else pa.Table.from_pydict(block)
        result = self._gate.run(table, "ray block")
        _refuse_duplicates(result.manifest, "ray block")
        return pa.Table.from_batches([result.admitted])


def _refuse_duplicates(manifest: pa.RecordBatch, where: str) -> None:
    refuse_duplicates(manifest.column("tenant"), manifest.column("id"), where)
