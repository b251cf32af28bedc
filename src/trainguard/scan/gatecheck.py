"""The gate's ``--scan``: records about to be admitted are checked against the registry.

A record whose content holds registered customer content (a verbatim span or
a near-duplicate, at the scanner's default confidence) is kept out with
``REGISTERED_CUSTOMER_CONTENT``: mislabeled data is caught at the gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .keys import KeyRing
from .matcher import Matcher, ScanConfig
from .normalize import transcript_text
from .registry import Registry


def _row_text(values: Sequence[Any]) -> str:
    parts = []
    for v in values:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list) and v and all(isinstance(t, dict) for t in v):
            parts.append(transcript_text(v))
    return "\n".join(parts)


class RegistryCheck:
    """Picklable: each process (or Ray worker) opens the registry itself."""

    def __init__(self, registry: str, keys: str, config: ScanConfig | None = None) -> None:
        self.registry, self.keys, self.config = registry, keys, config or ScanConfig()
        self._matcher: Matcher | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_matcher": None}

    def __call__(self, batch: pa.RecordBatch, columns: Sequence[str]) -> np.ndarray:
        if self._matcher is None:
            self._matcher = Matcher(Registry(self.registry, KeyRing(self.keys)), self.config)
        cols = [batch.column(c).to_pylist() for c in columns]
        out = np.zeros(batch.num_rows, dtype=bool)
        for i in range(batch.num_rows):
            text = _row_text([c[i] for c in cols])
            if text and self._matcher.scan(text)[0]:
                out[i] = True
        return out


def registry_check(registry: str | None, keys: str | None) -> tuple[RegistryCheck, dict[str, Any]]:
    reg = Registry(registry, KeyRing(keys)).require()
    stats = reg.stats()
    info = {
        "registry": str(reg.path.resolve()),
        "items": stats["items"],
        "fingerprints": stats["fingerprints"],
        "min_confidence": ScanConfig().min_confidence,
    }
    return RegistryCheck(str(reg.path), str(reg.keys.path)), info
