"""Gating a training set: the platform's act (the operator's key, the local
operator). :func:`trainguard.gate.run_gate` writes the admitted records, the
manifest of every decision and the ``gate.run`` entry; here the caller is
checked, the column mapping read, and, with ``scan``, the registry check that
keeps registered content out is set up, before any record is read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..gate import ColumnMapping, GateResult, run_gate
from .access import OPERATOR, Principal

if TYPE_CHECKING:
    from ..gate.run import Progress
    from ..store import Store


def gate(
    who: Principal,
    store: Store,
    sources: Sequence[str],
    use: str,
    out: Path,
    *,
    mapping: Path | None = None,
    at: datetime | None = None,
    replace: bool = False,
    lineage: Sequence[Path] = (),
    fmt: str | None = None,
    engine: str = "local",
    scan: bool = False,
    registry: Path | None = None,
    keys: Path | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Admit the records of ``sources`` that ``use`` may have, into ``out``."""
    who.require(*OPERATOR)
    column_mapping = ColumnMapping.load(mapping) if mapping else None
    check, info = None, None
    if scan:
        from ..scan.gatecheck import registry_check

        check, info = registry_check(
            str(registry) if registry else None, str(keys) if keys else None
        )
    options: dict[str, Any] = {
        "mapping": column_mapping,
        "at": at,
        "replace": replace,
        "lineage_dirs": lineage,
        "content_check": check,
        "scan_info": info,
        "fmt": fmt,
    }
    if engine == "ray":
        from ..gate.raygate import run_gate_on_ray

        return run_gate_on_ray(store, sources, use, out, **options)
    return run_gate(store, sources, use, out, progress=progress, **options)
