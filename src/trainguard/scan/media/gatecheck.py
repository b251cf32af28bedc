"""The gate's ``--scan`` for media: a record whose binary content columns hold a
registered recording, picture or video is kept out like one holding registered text.

A binary value that is not decodable media (an embedding, a hash, other bytes)
is not a finding: the gate decides on the record's terms, and the check only
adds what the registry proves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from ..keys import KeyRing
from ..registry import Registry
from .corpus import MediaRecord
from .decode import MediaError, sniff_kind
from .matcher import MediaConfig, MediaMatcher
from .run import media_matcher, scan_record
from .store import MediaRegistry


class ContentCheck(Protocol):
    def __call__(self, batch: pa.RecordBatch, columns: Sequence[str]) -> np.ndarray: ...


def _binary(col: pa.Array) -> bool:
    return bool(pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type))


class MediaCheck:
    """Picklable: each process (or Ray worker) opens the registry itself."""

    def __init__(self, registry: str, keys: str) -> None:
        self.registry, self.keys = registry, keys
        self._matcher: MediaMatcher | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_matcher": None}

    def __call__(self, batch: pa.RecordBatch, columns: Sequence[str]) -> np.ndarray:
        out = np.zeros(batch.num_rows, dtype=bool)
        binary = [c for c in columns if _binary(batch.column(c))]
        if not binary:
            return out
        if self._matcher is None:
            self._matcher = media_matcher(self.registry, KeyRing(self.keys), MediaConfig())
        for c in binary:
            for i, value in enumerate(batch.column(c).to_pylist()):
                if value is None or out[i]:
                    continue
                try:
                    finding, _ = scan_record(self._matcher, MediaRecord("", f"{c}", value))
                except MediaError:
                    continue
                out[i] = finding is not None
        return out


class EitherCheck:
    """Kept out when the text check or the media check finds registered content.

    A binary value that is audio, video or an image is the media check's alone;
    every other value goes to the text check, which refuses the run for one it
    cannot read as text (fail closed: neither check could have scanned it).
    """

    def __init__(self, text: ContentCheck, media: ContentCheck) -> None:
        self.text, self.media = text, media

    def __call__(self, batch: pa.RecordBatch, columns: Sequence[str]) -> np.ndarray:
        found: np.ndarray = self.media(batch, columns) | self.text(
            _without_media(batch, columns), columns
        )
        return found


def _without_media(batch: pa.RecordBatch, columns: Sequence[str]) -> pa.RecordBatch:
    """``batch`` with the media values of its binary content columns made null."""
    arrays = list(batch.columns)
    for c in columns:
        col = batch.column(c)
        if not _binary(col):
            continue
        values = [None if v is not None and _is_media(v) else v for v in col.to_pylist()]
        arrays[batch.schema.get_field_index(c)] = pa.array(values, col.type)
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _is_media(value: bytes) -> bool:
    try:
        sniff_kind(value, "")
    except MediaError:
        return False
    return True


def media_check(reg: Registry) -> tuple[MediaCheck, dict[str, Any]] | None:
    """The media check of a registry that holds media (None when it holds none)."""
    media = MediaRegistry(reg.path, reg.keys)
    if not media.exists():
        return None
    media_matcher(reg.path, reg.keys, MediaConfig())  # refuses keys that cannot read it
    stats = media.stats()
    return MediaCheck(str(reg.path), str(reg.keys.path)), {
        "media_items": stats["items"],
        "media_fingerprints": stats["landmarks"] + stats["frame_hashes"],
    }
