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

from ..arrowbuffers import valid_mask
from .corpus import join_strings
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


def _utf8_strings(col: pa.Array) -> bool:
    """A string column whose every value is valid UTF-8 (Parquet readers do not check)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return False
    try:
        col.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _values(col: pa.Array) -> list[Any]:
    """A column's values; text that is not UTF-8 is read with replacement characters,
    as text files are, rather than stopping the gate."""
    strings = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
    if strings and not _utf8_strings(col):
        raw = col.cast(pa.large_binary()).to_pylist()
        return [None if v is None else v.decode("utf-8", "replace") for v in raw]
    values: list[Any] = col.to_pylist()
    return values


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
        out = np.zeros(batch.num_rows, dtype=bool)
        if len(columns) == 1 and _utf8_strings(batch.column(columns[0])):
            # One text column: from Arrow's buffers to the scanner, no Python strings.
            text = batch.column(columns[0])
            rows = np.flatnonzero(valid_mask(text))
            data, starts = join_strings(text, rows)
            _, found = self._matcher.scan_batch(data, starts, lambda j: text[int(rows[j])].as_py())
            out[rows[sorted(found)]] = True
            return out
        cols = [_values(batch.column(c)) for c in columns]
        texts = [_row_text([c[i] for c in cols]) for i in range(batch.num_rows)]
        # One batch scan (a document is scanned alone only when a cheap check flags it).
        for i, (spans, _) in enumerate(self._matcher.scan_many(texts)):
            out[i] = bool(spans)
        return out


def registry_check(registry: str | None, keys: str | None) -> tuple[Any, dict[str, Any]]:
    from .media.gatecheck import EitherCheck, media_check

    reg = Registry(registry, KeyRing(keys))
    media = media_check(reg)  # audio, images and video in the registry's media folder
    if media is not None and not reg.exists():
        return media[0], {"registry": str(reg.path.resolve()), **media[1]}
    reg.require().require_keys()
    if media is not None:
        check, info = _text_check(reg)
        return EitherCheck(check, media[0]), {**info, **media[1]}
    return _text_check(reg)


def _text_check(reg: Registry) -> tuple[RegistryCheck, dict[str, Any]]:
    stats = reg.stats()
    info = {
        "registry": str(reg.path.resolve()),
        "items": stats["items"],
        "fingerprints": stats["fingerprints"],
        "min_confidence": ScanConfig().min_confidence,
    }
    return RegistryCheck(str(reg.path), str(reg.keys.path)), info
