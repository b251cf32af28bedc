"""The gate's ``--scan``: records about to be admitted are checked against the registry.

A record whose content holds registered customer content (a verbatim span or
a near-duplicate, at the scanner's default confidence) is kept out with
``REGISTERED_CUSTOMER_CONTENT``: mislabeled data is caught at the gate.

Every content value of a record about to be admitted is scanned, whatever its
type: text as it is, binary values as the UTF-8 text they hold, transcript
turns by their words, other lists and nested values by the text they hold, numbers and
times as they print. A value that cannot be read as text — a string or a
binary value that is not valid UTF-8 — could hide registered content from the
check (one bad byte every few words breaks every window), so the check
refuses it (:class:`UnscannableContent`) and the gate refuses the run, naming
the record, rather than admit it unscanned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from .._native.arrowbuffers import valid_mask
from ..gate.core import UnscannableContent
from .corpus import join_strings
from .keys import KeyRing
from .matcher import Matcher, ScanConfig
from .normalize import transcript_text
from .registry import Registry


def _row_text(values: Sequence[Any]) -> str:
    parts = []
    for v in values:
        if v is None:
            continue
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, bytes):
            parts.append(v.decode("utf-8"))  # checked by _values
        elif isinstance(v, list) and v and all(isinstance(t, dict) and "content" in t for t in v):
            parts.append(transcript_text(v))
        elif isinstance(v, list | tuple | dict):
            parts.extend(_strings_in(v))
        else:
            parts.append(str(v))
    return "\n".join(parts)


def _strings_in(value: Any) -> Iterator[str]:
    """The text of a nested value, one leaf a line (map keys are names, not content)."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings_in(v)
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
    elif value is not None:
        yield str(value)


def _utf8_strings(col: pa.Array) -> bool:
    """A string column whose every value is valid UTF-8 (Parquet readers do not check)."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return False
    try:
        col.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _is_text_or_binary(t: pa.DataType) -> bool:
    return any(
        f(t)
        for f in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                  pa.types.is_large_binary, pa.types.is_fixed_size_binary)
    )  # fmt: skip


def _values(col: pa.Array, name: str) -> list[Any]:
    """A column's values; a string or binary value that is not UTF-8 cannot be
    scanned, and is refused."""
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if _is_text_or_binary(col.type) and not _utf8_strings(col):
        for row, v in enumerate(col.cast(pa.large_binary()).to_pylist()):
            if v is not None and not _is_utf8(v):
                raise UnscannableContent(
                    f"content column {name!r} is not valid UTF-8 text, so it cannot be "
                    "scanned for registered content; --scan refuses to admit it unscanned",
                    row,
                )
    values: list[Any] = col.to_pylist()
    return values


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


class RegistryCheck:
    """Picklable: each process (or Ray worker) opens the registry itself; ``matcher``,
    one already open in this process."""

    def __init__(
        self,
        registry: str,
        keys: str,
        config: ScanConfig | None = None,
        matcher: Matcher | None = None,
    ) -> None:
        self.registry, self.keys, self.config = registry, keys, config or ScanConfig()
        self._matcher = matcher

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
        cols = [_values(batch.column(c), c) for c in columns]
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
    # The matcher checks every registry file now, before the run reads a record.
    check = RegistryCheck(str(reg.path), str(reg.keys.path), matcher=Matcher(reg))
    stats = reg.stats()
    info = {
        "registry": str(reg.path.resolve()),
        "items": stats["items"],
        "fingerprints": stats["fingerprints"],
        "min_confidence": ScanConfig().min_confidence,
    }
    return check, info
