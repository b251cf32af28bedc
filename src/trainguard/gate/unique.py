"""Record ids are unique within a tenant in a gate run, checked in bounded memory.

A duplicate id is ambiguous input: lineage, proofs and impact reports name
records by (tenant, id), and two rows under one name would let one stand in
for the other. So a run refuses it, however far apart the two rows are.

Each (tenant, id) becomes a 64-bit digest under a key drawn fresh for the run
(so no one can craft inputs whose digests collide). Digests are kept in memory
up to a budget; past it they are spilled, sorted, to 256 bucket files by their
top byte, and at the end each bucket is sorted and scanned on its own: memory
stays bounded by the budget and the largest bucket, not by the run. Equal
digests are only suspects: the rows holding them are read again and compared
exactly, so a digest collision never refuses a run, and a real duplicate is
named with the positions of its first two rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numba
import numpy as np
import pyarrow as pa

from .._native.arrowbuffers import value_buffers
from ..errors import InputError

# 8 MB of digests in memory before spilling.
MEMORY_DIGESTS = 1 << 20
_BUCKETS = 256

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)


@numba.njit(cache=True, inline="always")
def _mix(h: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    # splitmix64's finalizer: every input bit reaches every output bit.
    h ^= h >> np.uint64(30)
    h *= _M2
    h ^= h >> np.uint64(27)
    h *= _M3
    h ^= h >> np.uint64(31)
    return h


@numba.njit(cache=True, inline="always")
def _absorb(h: np.uint64, data: Any, start: int, end: int) -> np.uint64:  # pragma: no cover
    # The length first, so "a" and "a\0" (same words) differ.
    h = _mix(h ^ (np.uint64(end - start) * _M1))
    word = np.uint64(0)
    shift = np.uint64(0)
    for j in range(start, end):
        word |= np.uint64(data[j]) << shift
        shift += np.uint64(8)
        if shift == np.uint64(64):
            h = _mix(h ^ word) * _M1
            word = np.uint64(0)
            shift = np.uint64(0)
    return _mix(h ^ word)


@numba.njit(cache=True)
def _key_digests(
    t_offsets: Any, t_data: Any, i_offsets: Any, i_data: Any, k0: np.uint64, k1: np.uint64, out: Any
) -> None:  # pragma: no cover - compiled
    for r in range(out.shape[0]):
        h = _absorb(k0, t_data, t_offsets[r], t_offsets[r + 1])
        h = _absorb(h ^ k1, i_data, i_offsets[r], i_offsets[r + 1])
        out[r] = _mix(h ^ k0)


def key_digest_reference(tenant: bytes, record_id: bytes, k0: int, k1: int) -> int:
    """What :func:`_key_digests` computes for one (tenant, id), with Python integers:
    each string absorbed as its length, then its bytes in little-endian 8-byte
    words (the last one short), each step a splitmix64 finalizer."""
    mask = (1 << 64) - 1
    m1, m2, m3 = int(_M1), int(_M2), int(_M3)

    def mix(h: int) -> int:
        h ^= h >> 30
        h = (h * m2) & mask
        h ^= h >> 27
        h = (h * m3) & mask
        return h ^ (h >> 31)

    def absorb(h: int, data: bytes) -> int:
        h = mix(h ^ ((len(data) * m1) & mask))
        full = len(data) - len(data) % 8
        for at in range(0, full, 8):
            h = (mix(h ^ int.from_bytes(data[at : at + 8], "little")) * m1) & mask
        return mix(h ^ int.from_bytes(data[full:], "little"))

    return mix(absorb(absorb(k0, tenant) ^ k1, record_id) ^ k0)


@dataclass(frozen=True)
class Duplicate:
    """A (tenant, id) held by two rows: their positions in the run's input order."""

    tenant: str
    id: str
    first: int
    second: int


class UniqueIds:
    """Sees the (tenant, id) of every record of a run and says which may repeat."""

    def __init__(self, spill_dir: Path | None = None, memory_digests: int | None = None) -> None:
        self._k0 = np.uint64(secrets.randbits(64))
        self._k1 = np.uint64(secrets.randbits(64))
        self._spill_dir = spill_dir
        # Without a folder to spill to, everything stays in memory (in-memory tables).
        budget = MEMORY_DIGESTS if memory_digests is None else memory_digests
        self._budget = budget if spill_dir is not None else 0
        self._held: list[np.ndarray] = []
        self._held_count = 0
        self._buckets: list[BinaryIO] = []  # open from the first spill to the end
        self.records = 0

    def digests(self, tenants: pa.Array, ids: pa.Array) -> np.ndarray:
        """The run's digest of each (tenant, id), as uint64."""
        t_offsets, t_data = value_buffers(_plain(tenants))
        i_offsets, i_data = value_buffers(_plain(ids))
        out = np.empty(len(ids), np.uint64)
        _key_digests(t_offsets, t_data, i_offsets, i_data, self._k0, self._k1, out)
        return out

    def add(self, tenants: pa.Array, ids: pa.Array) -> None:
        """The next rows of the run, in input order."""
        digests = self.digests(tenants, ids)
        self.records += len(digests)
        self._held.append(digests)
        self._held_count += len(digests)
        if self._budget and self._held_count > self._budget:
            self._spill()

    def _spill(self) -> None:
        if not self._buckets:
            assert self._spill_dir is not None
            self._spill_dir.mkdir(parents=True, exist_ok=True)
            self._buckets = [open(self._bucket_path(b), "w+b") for b in range(_BUCKETS)]  # noqa: SIM115
        held = np.sort(np.concatenate(self._held)) if self._held else np.empty(0, np.uint64)
        self._held, self._held_count = [], 0
        # Sorted, so each bucket (top byte) is one slice.
        tops = np.arange(_BUCKETS, dtype=np.uint64) << np.uint64(56)
        bounds = [*np.searchsorted(held, tops).tolist(), len(held)]
        for bucket, f in enumerate(self._buckets):
            lo, hi = bounds[bucket], bounds[bucket + 1]
            if hi > lo:
                f.write(held[lo:hi].tobytes())

    def _bucket_path(self, bucket: int) -> Path:
        assert self._spill_dir is not None
        return self._spill_dir / f"ids-{bucket:03d}.u64"

    def suspects(self) -> np.ndarray:
        """The digests seen more than once, sorted (usually none)."""
        if not self._buckets:
            held = np.sort(np.concatenate(self._held)) if self._held else np.empty(0, np.uint64)
            return _repeated(held)
        self._spill()
        found = []
        for bucket, f in enumerate(self._buckets):
            f.seek(0)
            digests = np.frombuffer(f.read(), np.uint64).copy()
            f.close()
            self._bucket_path(bucket).unlink()
            digests.sort()
            found.append(_repeated(digests))
        self._buckets = []
        return np.concatenate(found)

    def close(self) -> None:
        """Close and remove the bucket files (when a run stops before :meth:`suspects`)."""
        for bucket, f in enumerate(self._buckets):
            f.close()
            self._bucket_path(bucket).unlink(missing_ok=True)
        self._buckets = []

    def first_duplicate(
        self, rows: Iterable[tuple[pa.Array, pa.Array]], suspects: np.ndarray
    ) -> Duplicate | None:
        """Read the run's (tenants, ids) again, in the same order, and compare the rows
        behind ``suspects`` exactly: the duplicate whose second row comes first, or
        None when the suspects were only digest collisions."""
        if not len(suspects):
            return None
        positions: dict[tuple[str, str], list[int]] = {}
        at = 0
        for tenants, ids in rows:
            hit = np.flatnonzero(np.isin(self.digests(tenants, ids), suspects))
            if hit.size:
                index = pa.array(hit)
                pairs = zip(
                    _plain(tenants).take(index).to_pylist(),
                    _plain(ids).take(index).to_pylist(),
                    strict=True,
                )
                for row, key in zip(hit.tolist(), pairs, strict=True):
                    positions.setdefault(key, []).append(at + row)
            at += len(ids)
        repeated = [(p[1], p[0], key) for key, p in positions.items() if len(p) > 1]
        if not repeated:
            return None
        second, first, (tenant, rid) = min(repeated)
        return Duplicate(tenant, rid, first, second)


def refuse_duplicates(tenants: pa.Array, ids: pa.Array, where: str) -> None:
    """Raise InputError naming the first repeated (tenant, id) of one in-memory table."""
    check = UniqueIds()
    check.add(tenants, ids)
    dup = check.first_duplicate([(tenants, ids)], check.suspects())
    if dup is not None:
        raise InputError(
            f"{where}: record id {dup.id!r} of tenant {dup.tenant!r} appears twice, in rows "
            f"{dup.first} and {dup.second}; ids must be unique within a tenant"
        )


def _repeated(sorted_digests: np.ndarray) -> np.ndarray:
    same = sorted_digests[1:] == sorted_digests[:-1]
    return np.unique(sorted_digests[1:][same])


def _plain(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not pa.types.is_string(col.type) and not pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    return col
