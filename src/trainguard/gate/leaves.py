"""Manifest rows as the leaves of an RFC 9162 tree.

A leaf commits to every column of its row. Each field is written with a
4-byte little-endian length in front (nothing needs escaping, every field
delimits itself, so no two different rows share leaf bytes):

- null: ``FF FF FF FF`` and nothing else
- text: ``len ‖ UTF-8``; ``content_sha256``: ``len ‖ its 32 bytes``
- ``collected_at``: ``len ‖`` microseconds since 1970-01-01T00:00:00Z as an
  8-byte little-endian signed integer
- ``allowed``: ``len ‖`` one byte, 1 or 0
- a list: its element count (4 bytes, little-endian), then each element's field

The six decision columns are committed to through their digest::

    decision = SHA-256(allowed ‖ reasons ‖ rules ‖ policy_at_use ‖ policy_at_collection ‖ consents)
    leaf     = SHA-256(0x00 ‖ id ‖ tenant ‖ categories ‖ collected_at ‖ subjects
                       ‖ derived_from ‖ content_sha256 ‖ decision)

(each name standing for that column's field, ``decision`` a 32-byte field).
Why the indirection: a million records of a gate run share a few distinct
decisions (dozens to thousands), so a writer hashes each distinct one once, and a typical
leaf is three SHA-256 blocks instead of six. :func:`reference_leaf` is the
whole definition in plain Python, for anyone checking a manifest without
trainguard; the compiled writer below is tested against it.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numba
import numpy as np
import pyarrow as pa

from .._native.arrowbuffers import valid_mask, value_buffers
from .._native.compiled import load_u64, store_u32, store_u64
from .._native.hashing import sha256_many
from .._native.scratch import scratch
from ..timeutil import parse_instant, to_micros

LEAF_FORMAT = (
    "SHA-256(0x00 || id, tenant, categories, collected_at, subjects, derived_from, "
    "content_sha256, SHA-256(allowed, reasons, rules, policy_at_use, policy_at_collection, "
    "consents)); fields length-prefixed (u32 LE), lists counted, null FFFFFFFF"
)
DECISION_COLUMNS = (
    "allowed", "reasons", "rules", "policy_at_use", "policy_at_collection", "consents",
)  # fmt: skip
_NULL = 0xFFFFFFFF


# --- the definition, one row at a time --------------------------------------------------


def _field(value: bytes | None) -> bytes:
    return struct.pack("<I", _NULL) if value is None else struct.pack("<I", len(value)) + value


def _text(value: str | None) -> bytes:
    return _field(None if value is None else value.encode("utf-8"))


def _texts(values: Sequence[str | None] | None) -> bytes:
    if values is None:
        return _field(None)
    return struct.pack("<I", len(values)) + b"".join(_text(v) for v in values)


def _micros(value: Any) -> bytes:
    if isinstance(value, datetime):
        value = to_micros(value)
    elif isinstance(value, str):  # as a JSON proof carries it
        value = to_micros(parse_instant(value, "collected_at"))
    return _field(None if value is None else struct.pack("<q", value))


def _digest(value: bytes | str | None) -> bytes:
    """A 32-byte digest field, given bytes or (as a JSON proof carries them) hex."""
    return _field(bytes.fromhex(value) if isinstance(value, str) else value)


def reference_decision(row: Mapping[str, Any]) -> bytes:
    """The decision digest of one manifest row (a dict, as ``to_pylist`` gives)."""
    allowed = row.get("allowed")
    return hashlib.sha256(
        _field(None if allowed is None else bytes([bool(allowed)]))
        + _texts(row.get("reasons"))
        + _texts(row.get("rules"))
        + _text(row.get("policy_at_use"))
        + _text(row.get("policy_at_collection"))
        + _texts(row.get("consents"))
    ).digest()


def reference_leaf(row: Mapping[str, Any]) -> bytes:
    """The bytes a manifest row's leaf hashes, after the RFC 9162 ``0x00``."""
    return (
        _text(row.get("id"))
        + _text(row.get("tenant"))
        + _texts(row.get("categories"))
        + _micros(row.get("collected_at"))
        + _texts(row.get("subjects"))
        + _texts(row.get("derived_from"))
        + _digest(row.get("content_sha256"))
        + _field(reference_decision(row))
    )


# --- compiled: whole batches -------------------------------------------------------------
#
# Every value a row's fields hold (a text, a list element, a time's 8 bytes, a
# digest) is a "piece": ``data[pieces[p]:pieces[p + 1]]``, or null where
# ``piece_ok[p]`` is False. A single-valued field f is piece ``base[f] + i`` of
# row i; a list field is pieces ``first[slot[f], i]`` onward, ``count[slot[f], i]``
# of them (-1: a null list). One loop writes every kind of field, so there are
# no per-kind helpers passing arrays around (numba counts references per call).


@numba.njit(cache=True)
def _row_lengths(
    base: Any, slot: Any, first: Any, count: Any, pieces: Any, piece_ok: Any, head: int,
    lens: Any,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    n = lens.shape[0]
    lens[:] = head + 4 * base.shape[0]
    for f in range(base.shape[0]):
        if slot[f] < 0:
            for i in range(n):
                p = base[f] + i
                if piece_ok[p]:
                    lens[i] += pieces[p + 1] - pieces[p]
            continue
        s = slot[f]
        for i in range(n):
            k, m = first[s, i], count[s, i]
            for p in range(k, k + m):
                lens[i] += 4 + (pieces[p + 1] - pieces[p] if piece_ok[p] else 0)


@numba.njit(cache=True)
def _write_rows(
    base: Any, slot: Any, first: Any, count: Any, pieces: Any, piece_ok: Any, data: Any,
    head: int, out: Any, starts: Any,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """``data`` and ``out`` have 8 bytes to spare at the end: pieces are copied a
    word at a time (no call per piece), a word's overhang overwritten by what follows.
    Single values and list elements share one piece loop: ``p`` runs over ``k..k+m``."""
    null = np.uint32(0xFFFFFFFF)
    for i in range(starts.shape[0] - 1):
        c = starts[i]
        if head:
            out[c] = 0
            c += 1
        for f in range(base.shape[0]):
            s = slot[f]
            if s < 0:
                k, m = base[f] + i, 1
            else:
                k, m = first[s, i], count[s, i]
                if m < 0:
                    store_u32(out, c, null)
                    c += 4
                    continue
                store_u32(out, c, np.uint32(m))
                c += 4
            for p in range(k, k + m):
                if not piece_ok[p]:
                    store_u32(out, c, null)
                    c += 4
                    continue
                a, size = pieces[p], pieces[p + 1] - pieces[p]
                store_u32(out, c, np.uint32(size))
                c += 4
                w = 0
                while w < size:
                    store_u64(out, c + w, load_u64(data, a + w))
                    w += 8
                c += size


# --- columns as pieces ------------------------------------------------------------------


class _Pieces:
    """The piece table of a batch, built field by field (in field order)."""

    def __init__(self, n: int, fields: int, lists: int) -> None:
        self.n = n
        self.base = np.zeros(fields, np.int64)
        self.slot = np.full(fields, -1, np.int64)
        self.first = scratch("first", lists * n, np.int64).reshape(lists, n)
        self.count = scratch("count", lists * n, np.int64).reshape(lists, n)
        self.sources: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.fields = self.lists = self.pieces = 0

    def _source(self, offsets: np.ndarray, data: np.ndarray, ok: np.ndarray) -> int:
        """Add a source's pieces; returns the index of its first piece."""
        first = self.pieces
        self.sources.append((offsets, data, ok))
        self.pieces += len(offsets) - 1
        return first

    def text(self, col: pa.Array | pa.ChunkedArray) -> None:
        col = _plain(col)
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.string())
        offsets, data = value_buffers(col)
        self._single(offsets, data, valid_mask(col))

    def fixed(self, values: np.ndarray, ok: np.ndarray) -> None:
        """Fixed-width byte strings: an (n, w) uint8 array."""
        n, width = values.shape
        offsets = np.arange(n + 1, dtype=np.int64) * width
        self._single(offsets, np.ascontiguousarray(values).reshape(-1), ok)

    def _single(self, offsets: np.ndarray, data: np.ndarray, ok: np.ndarray) -> None:
        self.base[self.fields] = self._source(offsets, data, ok)
        self.fields += 1

    def texts(self, col: pa.Array | pa.ChunkedArray) -> None:
        col = _plain(col)
        if not pa.types.is_list(col.type):
            col = col.cast(pa.list_(pa.string()))
        # A sliced list array's offsets still index its unsliced values.
        list_offsets = col.offsets.to_numpy().astype(np.int64)
        child = col.values.slice(list_offsets[0], list_offsets[-1] - list_offsets[0])
        if not pa.types.is_string(child.type):
            child = child.cast(pa.string())
        offsets, data = value_buffers(child)
        base = self._source(offsets, data, valid_mask(child))
        s = self.lists
        np.add(list_offsets[:-1], base - list_offsets[0], out=self.first[s])
        np.subtract(list_offsets[1:], list_offsets[:-1], out=self.count[s])
        if col.null_count:
            self.count[s][~valid_mask(col)] = -1
        self.slot[self.fields] = s
        self.fields += 1
        self.lists += 1

    def _joined(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All sources' pieces as one table: (piece offsets, piece ok, data)."""
        size = sum(int(o[-1] - o[0]) for o, _, _ in self.sources)
        pieces = scratch("pieces", self.pieces + 1, np.int64)
        ok = scratch("ok", self.pieces, np.bool_)
        data = scratch("data", size + 8)
        p = at = 0
        for offsets, source, valid in self.sources:
            k, width = len(offsets) - 1, int(offsets[-1] - offsets[0])
            np.add(offsets[:-1], at - offsets[0], out=pieces[p : p + k])
            ok[p : p + k] = valid
            data[at : at + width] = source[offsets[0] : offsets[-1]]
            p, at = p + k, at + width
        pieces[p] = at
        return pieces, ok, data

    def write(self, head: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every row's fields (after a 0x00 if ``head``): (buffer, row offsets)."""
        pieces, ok, data = self._joined()
        tables = (self.base, self.slot, self.first, self.count, pieces, ok)
        lens = np.empty(self.n, dtype=np.int64)
        _row_lengths(*tables, int(head), lens)
        offsets = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        out = scratch("out", int(offsets[-1]) + 8)
        _write_rows(*tables, data, int(head), out, offsets)
        return out[: int(offsets[-1])], offsets


def _plain(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _micros_bytes(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    micros = _plain(col).cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    values = np.asarray(micros.fill_null(0).to_numpy(zero_copy_only=False), "<i8")
    return values.view(np.uint8).reshape(-1, 8), valid_mask(micros)


def _digest_bytes(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    col = _plain(col)
    if col.type != pa.binary(32):
        raise TypeError(f"content_sha256 must be fixed_size_binary(32), not {col.type}")
    buf = col.buffers()[1]
    n = len(col)
    if buf is None:
        return np.zeros((n, 32), np.uint8), valid_mask(col)
    raw = np.frombuffer(buf, np.uint8)[col.offset * 32 : (col.offset + n) * 32]
    return raw.reshape(n, 32), valid_mask(col)


def decision_bytes(rows: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """The bytes each row's decision digest hashes: (buffer, row offsets)."""
    pieces = _Pieces(rows.num_rows, fields=6, lists=3)
    allowed = _plain(rows.column("allowed"))
    values = np.asarray(allowed.fill_null(False).to_numpy(zero_copy_only=False), np.uint8)
    pieces.fixed(values.reshape(-1, 1), valid_mask(allowed))
    pieces.texts(rows.column("reasons"))
    pieces.texts(rows.column("rules"))
    pieces.text(rows.column("policy_at_use"))
    pieces.text(rows.column("policy_at_collection"))
    pieces.texts(rows.column("consents"))
    return pieces.write(head=False)


def decision_digests(rows: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Every row's decision digest, (n, 32) uint8."""
    if rows.num_rows == 0:
        return np.empty((0, 32), dtype=np.uint8)
    data, offsets = decision_bytes(rows)
    return sha256_many(data, offsets)


def leaf_bytes(
    rows: pa.Table | pa.RecordBatch, decisions: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``0x00 ‖ fields`` of every row: (buffer, row offsets). ``decisions``: the rows'
    decision digests when the caller has them (else they are computed here)."""
    n = rows.num_rows
    if decisions is None:
        decisions = decision_digests(rows)
    pieces = _Pieces(n, fields=8, lists=3)
    pieces.text(rows.column("id"))
    pieces.text(rows.column("tenant"))
    pieces.texts(rows.column("categories"))
    pieces.fixed(*_micros_bytes(rows.column("collected_at")))
    pieces.texts(rows.column("subjects"))
    pieces.texts(rows.column("derived_from"))
    pieces.fixed(*_digest_bytes(rows.column("content_sha256")))
    pieces.fixed(decisions, np.ones(n, np.bool_))
    return pieces.write(head=True)


def leaf_hashes(rows: pa.Table | pa.RecordBatch, decisions: np.ndarray | None = None) -> np.ndarray:
    """The RFC 9162 leaf hash of every manifest row, in order, as an (n, 32) array."""
    if rows.num_rows == 0:
        return np.empty((0, 32), dtype=np.uint8)
    data, offsets = leaf_bytes(rows, decisions)
    return sha256_many(data, offsets)
