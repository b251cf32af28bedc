"""The distinct decisions of a gate run, numbered, with their manifest columns and digests.

A million records share few distinct decisions (dozens to thousands). The gate
numbers each distinct one once, keeps its six manifest columns and its decision digest
(:mod:`.leaves`), and gives every batch its rows' columns and digests by
``take`` on those numbers: no per-row encoding or hashing of decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..decision.decide import CoreDecision
from .leaves import DECISION_COLUMNS, decision_digests
from .manifest import MANIFEST_SCHEMA

REGISTERED_CUSTOMER_CONTENT = "REGISTERED_CUSTOMER_CONTENT"
# The manifest's six decision columns, as the manifest types them.
DECISION_FIELDS = pa.schema([MANIFEST_SCHEMA.field(name) for name in DECISION_COLUMNS])

_Row = tuple[bool, list[str], list[str], str | None, str | None, list[str]]


class DecisionTable:
    """Decisions by number: :meth:`numbers` registers a batch's decisions,
    :meth:`kept_out` gives the variant of a decision that registered content
    keeps out, :meth:`columns` and :meth:`digests` give rows their values."""

    def __init__(self) -> None:
        # The kept-out variant of each decision number that needed one.
        self._kept_out: dict[int, int] = {}
        # Decision n: a decision of the batch engine, or the values of a kept-out variant.
        self._rows: list[CoreDecision | _Row] = []
        # Settled: the first ``len(self._digests)`` rows as Arrow columns (in chunks:
        # with many tenants, new decisions come with every batch) and digests.
        self._chunks: list[pa.Table] = []
        self._table = DECISION_FIELDS.empty_table()
        self._digests = _Growing((32,), np.uint8)
        self._allowed = _Growing((), np.bool_)
        # Codes of decide_codes's list -> numbers here.
        self._source: Sequence[CoreDecision] = []
        self._of_code = _Growing((), np.int64)

    def __len__(self) -> int:
        return len(self._rows)

    def _add(self, row: _Row) -> int:
        self._rows.append(row)
        return len(self._rows) - 1

    def numbers(self, codes: np.ndarray, decisions: Sequence[CoreDecision]) -> np.ndarray:
        """The number of each row's decision, given ``decide_codes``'s answer. With the
        run's memo, ``decisions`` is one list that only grows: only its new entries
        are numbered. (Numbers follow list positions, never object identity: a gate
        that travelled to a Ray worker holds copies, and an address can be reused.)"""
        if decisions is not self._source:
            self._source, self._of_code = decisions, _Growing((), np.int64)
        fresh = decisions[len(self._of_code) :]
        if fresh:
            first = len(self._rows)
            self._rows.extend(fresh)
            self._of_code.extend(np.arange(first, len(self._rows), dtype=np.int64))
        numbers: np.ndarray = self._of_code.values[codes]
        return numbers

    def row(self, number: int) -> _Row:
        """Decision ``number``'s six manifest values, as Python values."""
        return _as_row(self._rows[number])

    def kept_out(self, numbers: np.ndarray) -> np.ndarray:
        """For each decision number, the number of the same decision denied with
        reason REGISTERED_CUSTOMER_CONTENT (rules, terms and consents unchanged)."""
        distinct, inverse = np.unique(numbers, return_inverse=True)
        variants = np.empty(len(distinct), dtype=np.int64)
        for k, number in enumerate(distinct.tolist()):
            variant = self._kept_out.get(number)
            if variant is None:
                _, _, rules, at_use, at_collection, consents = self.row(number)
                variant = self._kept_out[number] = self._add(
                    (False, [REGISTERED_CUSTOMER_CONTENT], rules, at_use, at_collection, consents)
                )
            variants[k] = variant
        return variants[inverse.reshape(-1)]

    def _settle(self) -> None:
        """Turn decisions numbered since the last call into columns and digests."""
        known = len(self._digests)
        if known == len(self._rows):
            return
        fresh = _columns(self._rows[known:])
        chunk = pa.table(
            [pa.array(c, f.type) for c, f in zip(fresh, DECISION_FIELDS, strict=True)],
            schema=DECISION_FIELDS,
        )
        self._chunks.append(chunk)
        if len(self._chunks) > 32:  # Arrow takes from chunks as they are; keep them few
            self._chunks = [pa.concat_tables(self._chunks).combine_chunks()]
        self._table = pa.concat_tables(self._chunks)
        self._digests.extend(decision_digests(chunk))
        self._allowed.extend(np.array(fresh[0], np.bool_))

    def allowed(self, numbers: np.ndarray) -> np.ndarray:
        """Whether each of these decisions admits its record."""
        self._settle()
        allowed: np.ndarray = self._allowed.values[numbers]
        return allowed

    def columns(self, numbers: np.ndarray) -> list[pa.Array]:
        """The six decision columns of rows holding these decisions, in manifest order."""
        self._settle()
        table = self._table.take(pa.array(numbers))
        return [_one_chunk(table.column(name)) for name in DECISION_COLUMNS]

    def reasons(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Every decision's reasons as codes: decision d's are
        ``codes[offsets[d]:offsets[d + 1]]``, code c naming ``names[c]``."""
        self._settle()
        reasons = self._table.column("reasons").combine_chunks()
        offsets = np.asarray(reasons.offsets.to_numpy(), np.int64)
        values = reasons.values.slice(offsets[0], offsets[-1] - offsets[0])
        enc = pc.dictionary_encode(values)
        codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), np.int64)
        return offsets - offsets[0], codes, enc.dictionary.to_pylist()

    def policy_hashes(self, numbers: np.ndarray) -> set[str]:
        """The policy versions these decisions rested on (at use and at collection)."""
        self._settle()
        rows = self._table.take(pa.array(numbers))
        return {
            h
            for name in ("policy_at_use", "policy_at_collection")
            for h in pc.unique(rows.column(name)).to_pylist()
            if h
        }

    def digests(self, numbers: np.ndarray) -> np.ndarray:
        """The decision digest of each row, (n, 32)."""
        self._settle()
        digests: np.ndarray = self._digests.values[numbers]
        return digests


class _Growing:
    """An array that grows at its end, with room that doubles (appending is amortized
    O(new), where np.concatenate would copy everything each time). Only the room past
    the end is written; one that arrived read-only on a Ray worker is copied first."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self._buf = np.empty((16, *shape), dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> np.ndarray:
        return self._buf[: self._size]

    def extend(self, more: np.ndarray) -> None:
        end = self._size + len(more)
        if end > len(self._buf) or not self._buf.flags.writeable:
            grown = np.empty((max(end, 2 * len(self._buf)), *self._buf.shape[1:]), self._buf.dtype)
            grown[: self._size] = self._buf[: self._size]
            self._buf = grown
        self._buf[self._size : end] = more
        self._size = end


def _columns(rows: Sequence[CoreDecision | _Row]) -> list[list[Any]]:
    """The six manifest columns of these decisions, as Python lists: a pass per column
    over the engine's decisions (cheaper than a tuple per decision)."""
    if not all(isinstance(r, CoreDecision) for r in rows):
        return [list(c) for c in zip(*(_as_row(r) for r in rows), strict=True)]
    decided: Sequence[Any] = rows
    return [
        [r.allowed for r in decided],
        [r.reasons for r in decided],
        [r.rules for r in decided],
        [r.policy_at_use.hash if r.policy_at_use else None for r in decided],
        [r.policy_at_collection.hash if r.policy_at_collection else None for r in decided],
        [r.consents for r in decided],
    ]


def _as_row(r: CoreDecision | _Row) -> _Row:
    if not isinstance(r, CoreDecision):
        return r
    return (
        r.allowed,
        list(r.reasons),
        list(r.rules),
        r.policy_at_use.hash if r.policy_at_use else None,
        r.policy_at_collection.hash if r.policy_at_collection else None,
        list(r.consents),
    )


def _one_chunk(col: pa.ChunkedArray) -> pa.Array:
    # combine_chunks copies even a lone chunk.
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
