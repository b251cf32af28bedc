"""The distinct decisions of a gate run, numbered, with their manifest columns and digests.

A million records share a few thousand decisions. The gate numbers each
distinct one once, keeps its six manifest columns and its decision digest
(:mod:`.leaves`), and gives every batch its rows' columns and digests by
``take`` on those numbers: no per-row encoding or hashing of decisions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from ..decide import CoreDecision
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
        self._rows: list[_Row] = []
        # Settled: the first ``len(self._digests)`` rows as Arrow columns and digests.
        self._chunks: list[pa.Table] = []
        self._table = DECISION_FIELDS.empty_table()
        self._digests = np.empty((0, 32), np.uint8)
        self._allowed = np.empty(0, np.bool_)
        # Codes of decide_codes's list -> numbers here.
        self._source: Sequence[CoreDecision] = []
        self._of_code = np.empty(0, np.int64)

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
            self._source, self._of_code = decisions, np.empty(0, np.int64)
        fresh = decisions[len(self._of_code) :]
        if fresh:
            self._of_code = np.concatenate([self._of_code, [self._add(_row(r)) for r in fresh]])
        numbers: np.ndarray = self._of_code[codes]
        return numbers

    def row(self, number: int) -> _Row:
        """Decision ``number``'s six manifest values, as Python values."""
        return self._rows[number]

    def kept_out(self, numbers: np.ndarray) -> np.ndarray:
        """For each decision number, the number of the same decision denied with
        reason REGISTERED_CUSTOMER_CONTENT (rules, terms and consents unchanged)."""
        distinct, inverse = np.unique(numbers, return_inverse=True)
        variants = np.empty(len(distinct), dtype=np.int64)
        for k, number in enumerate(distinct.tolist()):
            variant = self._kept_out.get(number)
            if variant is None:
                _, _, rules, at_use, at_collection, consents = self._rows[number]
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
        fresh = list(zip(*self._rows[known:], strict=True))
        chunk = pa.table(
            [pa.array(list(c), f.type) for c, f in zip(fresh, DECISION_FIELDS, strict=True)],
            schema=DECISION_FIELDS,
        )
        self._chunks.append(chunk)
        self._table = pa.concat_tables(self._chunks).combine_chunks()
        self._chunks = [self._table]
        self._digests = np.concatenate([self._digests, decision_digests(chunk)])
        self._allowed = np.concatenate([self._allowed, np.array(fresh[0], np.bool_)])

    def allowed(self, numbers: np.ndarray) -> np.ndarray:
        """Whether each of these decisions admits its record."""
        self._settle()
        allowed: np.ndarray = self._allowed[numbers]
        return allowed

    def columns(self, numbers: np.ndarray) -> list[pa.Array]:
        """The six decision columns of rows holding these decisions, in manifest order."""
        self._settle()
        table = self._table.take(pa.array(numbers))
        return [_one_chunk(table.column(name)) for name in DECISION_COLUMNS]

    def digests(self, numbers: np.ndarray) -> np.ndarray:
        """The decision digest of each row, (n, 32)."""
        self._settle()
        digests: np.ndarray = self._digests[numbers]
        return digests


def _row(r: CoreDecision) -> _Row:
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
