"""The gate: build training sets only through the decision, with a manifest.

Entry points, all deciding through :class:`Gate`:

- :func:`run_gate` — sources (files, folders, globs, fsspec URLs) to a gate
  output folder, streamed, recorded in the audit log;
- :func:`gate_table`, :func:`gate_pandas`, :func:`gate_polars` — filter an
  in-memory frame, returning the admitted rows and their manifest;
- :func:`ray_gate` — a callable for Ray Data's ``map_batches``.
"""

from __future__ import annotations

from .core import Gate, GateBatch, Lineage
from .decisions import REGISTERED_CUSTOMER_CONTENT
from .frames import gate_pandas, gate_polars, gate_table, ray_gate
from .manifest import MANIFEST_SCHEMA, prove_record, read_manifest, verify_manifest
from .mapping import ColumnMapping
from .run import GateResult, run_gate

__all__ = [
    "MANIFEST_SCHEMA",
    "REGISTERED_CUSTOMER_CONTENT",
    "ColumnMapping",
    "Gate",
    "GateBatch",
    "GateResult",
    "Lineage",
    "gate_pandas",
    "gate_polars",
    "gate_table",
    "prove_record",
    "ray_gate",
    "read_manifest",
    "run_gate",
    "verify_manifest",
]
