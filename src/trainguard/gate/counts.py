"""Counts of a gate run by category set × allowed × reason, kept cheaply per batch.

A batch adds its records as (category set, decision number) pairs — one hash
pass and one bincount; only when the counts are read (once a run, for
``manifest.json``) are the pairs spelled out into reasons. Nothing here is
proportional to the number of distinct decisions per batch: with millions of
tenants, a run has millions of decisions.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from .decisions import DecisionTable

# Pairs are packed as number * _LABELS + label (category sets are bounded far below
# this by the batch engine's own limit of 2^20).
_LABELS = 1 << 21
# Pending pairs merged into one set of distinct pairs beyond this many.
_MERGE_AT = 1 << 22


class PairCounts:
    """Records by (category set label, decision number), not yet spelled out."""

    def __init__(self) -> None:
        self.labels: dict[str, int] = {}
        self._keys: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._pending = 0

    def add(self, labels: list[str], codes: np.ndarray, numbers: np.ndarray) -> None:
        """A batch's records: each one's category set (``labels[codes[i]]``) and decision."""
        ids = np.array([self.labels.setdefault(x, len(self.labels)) for x in labels], np.int64)
        if len(self.labels) >= _LABELS:
            raise InputError("more category sets in one run than its counts can hold")
        enc = pc.dictionary_encode(pa.array(numbers * _LABELS + ids[codes]))
        self._keys.append(np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), np.int64))
        self._counts.append(np.bincount(enc.indices.to_numpy(zero_copy_only=False)))
        self._pending += len(self._keys[-1])
        if self._pending > _MERGE_AT:
            self._merge()

    def _merge(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._keys:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        keys, inverse = np.unique(np.concatenate(self._keys), return_inverse=True)
        counts = np.bincount(inverse.reshape(-1), weights=np.concatenate(self._counts))
        self._keys, self._counts = [keys], [counts.astype(np.int64)]
        self._pending = len(keys)
        return self._keys[0], self._counts[0]

    def take(self, decisions: DecisionTable) -> tuple[Counter[tuple[str, bool, str]], set[str]]:
        """Spell the pending pairs out, and forget them: (records by category set ×
        allowed × reason — a record with two reasons counts under both — and the
        policy versions the decisions rested on)."""
        keys, counts = self._merge()
        self._keys, self._counts, self._pending = [], [], 0
        out: Counter[tuple[str, bool, str]] = Counter()
        if not len(keys):
            return out, set()
        numbers, labels = np.divmod(keys, _LABELS)
        offsets, reason_codes, reason_names = decisions.reasons()
        # Each pair once per reason of its decision.
        per_pair = offsets[numbers + 1] - offsets[numbers]
        pair = np.repeat(np.arange(len(keys)), per_pair)
        within = np.arange(len(pair)) - np.repeat(np.cumsum(per_pair) - per_pair, per_pair)
        reason = reason_codes[offsets[numbers][pair] + within]
        allowed = decisions.allowed(numbers).astype(np.int64)
        n_reasons = max(len(reason_names), 1)
        cell = (labels[pair] * 2 + allowed[pair]) * n_reasons + reason
        totals = np.bincount(cell, weights=counts[pair])
        names = list(self.labels)
        for k in np.flatnonzero(totals).tolist():
            rest, r = divmod(k, n_reasons)
            label, a = divmod(rest, 2)
            out[(names[label], bool(a), reason_names[r])] += int(totals[k])
        return out, decisions.policy_hashes(np.unique(numbers))
