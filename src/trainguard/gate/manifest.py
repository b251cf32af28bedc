"""Manifest rows, their Merkle leaves, and proofs that one record is in a manifest.

Every input record of a gate run is one manifest row. Its leaf in the
manifest's RFC 9162 tree is ``SHA-256(0x00 ‖ canonical JSON of the row)``,
the row being an object with exactly the keys of :data:`MANIFEST_SCHEMA`
(RFC 8785: sorted keys, no insignificant whitespace; absent values are
``null``, lists are kept in stored order, ``collected_at`` is an integer:
microseconds since 1970-01-01T00:00:00Z). Anyone holding ``manifest.parquet``
can recompute every leaf and the root in ``manifest.json`` without trainguard.

The JSON text is assembled column-wise by compiled loops (:mod:`.leafjson`).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from ..compiled import copy_bytes
from ..errors import InputError, IntegrityError, NotFoundError
from ..hashing import sha256_many
from ..timeutil import format_instant, parse_instant, to_micros
from .leafjson import JsonColumn

_STR_LIST = pa.list_(pa.string())

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("tenant", pa.string()),
        ("categories", _STR_LIST),
        ("collected_at", pa.timestamp("us", tz="UTC")),
        ("subjects", _STR_LIST),
        ("derived_from", _STR_LIST),
        ("content_sha256", pa.string()),
        ("allowed", pa.bool_()),
        ("reasons", _STR_LIST),
        ("rules", _STR_LIST),
        ("policy_at_use", pa.string()),
        ("policy_at_collection", pa.string()),
        ("consents", _STR_LIST),
    ]
)
_KEYS = sorted(MANIFEST_SCHEMA.names)

# How manifest.parquet is written (the same everywhere, so runs stay byte for byte
# alike): dictionary pages only for the columns that repeat (ids and digests are
# unique, and trying costs a fifth of the write), min/max statistics for the
# columns readers filter on.
MANIFEST_WRITE_OPTIONS: dict[str, Any] = {
    "use_dictionary": [
        "tenant", "categories", "subjects", "derived_from", "allowed", "reasons", "rules",
        "policy_at_use", "policy_at_collection", "consents",
    ],
    "write_statistics": ["id", "tenant", "collected_at", "allowed"],
}  # fmt: skip


@numba.njit(cache=True)
def _write_keys(
    out: Any, starts: Any, keys: Any, key_offsets: Any, r0: int, r1: int
) -> None:  # pragma: no cover - compiled
    """Key f of rows r0..r1 just before its value, which starts at ``starts[f, i]``;
    the closing brace, the last key, at ``starts[fields, i]``."""
    for i in range(r0, r1):
        for f in range(starts.shape[0]):
            a, b = key_offsets[f], key_offsets[f + 1]
            copy_bytes(out, starts[f, i] - (b - a), keys, a, b - a)


_ROWS_IN_CACHE = 2048
_SCRATCH = threading.local()


def _scratch(size: int) -> np.ndarray:
    """A byte buffer of ``size`` reused from batch to batch (per thread): a fresh one
    of tens of megabytes would page-fault its way through every batch."""
    buf: np.ndarray | None = getattr(_SCRATCH, "buf", None)
    if buf is None or buf.shape[0] < size:
        buf = np.empty(max(size, 2 * (0 if buf is None else buf.shape[0])), dtype=np.uint8)
        _SCRATCH.buf = buf
    return buf[:size]


def _leaf_bytes(rows: pa.Table | pa.RecordBatch) -> tuple[np.ndarray, np.ndarray]:
    """``0x00 ‖ canonical JSON`` of every row: one buffer and the row offsets into it.

    The buffer is scratch space, valid until the next call in the same thread.

    Every field's JSON length is computed column-wise (:mod:`.leafjson`); from
    them, where each value goes; then each column writes its values straight
    into place and one loop adds the keys.
    """
    n = rows.num_rows
    columns = [JsonColumn(rows.column(name)) for name in _KEYS]
    keys = [(("\x00{" if i == 0 else ",") + f'"{name}":').encode() for i, name in enumerate(_KEYS)]
    keys.append(b"}")
    key_lens = np.array([len(k) for k in keys], dtype=np.int64)
    lens = np.zeros((len(keys), n), dtype=np.int64)  # the last row: the brace has no value
    for f, column in enumerate(columns):
        lens[f] = column.lengths()
    # Within a row, field f's value ends after every key and value before it and its own.
    ends = lens + key_lens[:, None]
    for f in range(1, len(keys)):  # row by row along axis 0, but contiguous in memory
        ends[f] += ends[f - 1]
    row_offsets = np.zeros(n + 1, dtype=np.int64)
    row_offsets[1:] = np.cumsum(ends[-1])
    starts = row_offsets[:-1] + ends - lens
    out = _scratch(int(row_offsets[-1]))
    key_offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(key_lens, out=key_offsets[1:])
    key_bytes = np.frombuffer(b"".join(keys), dtype=np.uint8)
    # A few thousand rows at a time, so the part of ``out`` every column writes
    # to stays in cache from the first column to the last.
    for r0 in range(0, n, _ROWS_IN_CACHE):
        r1 = min(r0 + _ROWS_IN_CACHE, n)
        for f, column in enumerate(columns):
            column.write(out, starts[f], lens[f], (r0, r1))
        _write_keys(out, starts, key_bytes, key_offsets, r0, r1)
    return out, row_offsets


def leaf_texts(rows: pa.Table | pa.RecordBatch) -> pa.Array:
    """``0x00 ‖ canonical JSON`` of every row, as a string array (for inspection)."""
    data, offsets = _leaf_bytes(rows)
    return pa.LargeStringArray.from_buffers(
        rows.num_rows, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data.tobytes())
    )


def leaf_hashes(rows: pa.Table | pa.RecordBatch) -> np.ndarray:
    """The RFC 9162 leaf hash of every manifest row, in order, as an (n, 32) array."""
    if rows.num_rows == 0:
        return np.empty((0, 32), dtype=np.uint8)
    data, offsets = _leaf_bytes(rows)
    return sha256_many(data, offsets)


def row_json(row: dict[str, Any]) -> bytes:
    """The canonical JSON of one manifest row (what its leaf hashes, after 0x00)."""
    from ..canonical import canonical_json

    lists = {f.name for f in MANIFEST_SCHEMA if pa.types.is_list(f.type)}
    body = {k: (row.get(k) or [] if k in lists else row.get(k)) for k in _KEYS}
    when = body["collected_at"]
    if isinstance(when, datetime):
        body["collected_at"] = to_micros(when)
    elif isinstance(when, str):
        body["collected_at"] = to_micros(parse_instant(when, "collected_at"))
    return canonical_json(body)


# --- reading a manifest back ---------------------------------------------------------


def read_manifest(out_dir: str | Path) -> tuple[dict[str, Any], pa.Table]:
    """``manifest.json`` and ``manifest.parquet`` of a gate output folder."""
    d = Path(out_dir)
    try:
        meta = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFoundError(f"{d}: no manifest.json (not a gate output folder)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{d / 'manifest.json'}: not readable JSON ({exc})") from None
    try:
        table = pq.read_table(d / "manifest.parquet")
    except FileNotFoundError:
        raise NotFoundError(f"{d}: no manifest.parquet") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{d / 'manifest.parquet'}: not a readable Parquet file ({exc})") from None
    if table.schema.names != MANIFEST_SCHEMA.names:
        raise IntegrityError(f"{d / 'manifest.parquet'}: columns are not a trainguard manifest's")
    return meta, table


def manifest_tree(table: pa.Table) -> MerkleTree:
    leaves: list[bytes] = []
    for batch in table.to_batches(max_chunksize=65_536):
        leaves.extend(h.tobytes() for h in leaf_hashes(batch))
    return MerkleTree(leaves)


def verify_manifest(out_dir: str | Path) -> dict[str, Any]:
    """Recompute the root from the rows; raise IntegrityError if it is not the stated one."""
    meta, table = read_manifest(out_dir)
    tree = manifest_tree(table)
    stated = meta.get("merkle", {})
    if stated.get("tree_size") != tree.size:
        raise IntegrityError(
            f"{out_dir}: manifest.json says {stated.get('tree_size')} rows, "
            f"manifest.parquet holds {tree.size}"
        )
    if stated.get("root") != tree.root().hex():
        raise IntegrityError(
            f"{out_dir}: the root recomputed from manifest.parquet does not match manifest.json"
        )
    return {"rows": tree.size, "root": tree.root().hex(), "ok": True}


def prove_record(out_dir: str | Path, record_id: str) -> dict[str, Any]:
    """An RFC 9162 inclusion proof that the row of ``record_id`` is in the manifest."""
    meta, table = read_manifest(out_dir)
    ids = table.column("id").to_pylist()
    try:
        index = ids.index(record_id)
    except ValueError:
        raise NotFoundError(f"{out_dir}: no record {record_id!r} in the manifest") from None
    tree = manifest_tree(table)
    root = tree.root()
    if meta.get("merkle", {}).get("root") != root.hex():
        raise IntegrityError(f"{out_dir}: manifest.parquet does not match manifest.json's root")
    row = table.slice(index, 1).to_pylist()[0]
    if row["collected_at"] is not None:
        row["collected_at"] = format_instant(row["collected_at"])
    return {
        "type": "manifest_inclusion",
        "index": index,
        "tree_size": tree.size,
        "row": row,
        "leaf_hash": tree.levels[0][index].hex(),
        "root": root.hex(),
        "proof": [h.hex() for h in tree.inclusion_proof(index)],
    }


def check_record_proof(proof: dict[str, Any]) -> bool:
    """Check a proof from :func:`prove_record` using only the proof itself and its root."""
    try:
        leaf = leaf_hash(row_json(proof["row"]))
        return leaf.hex() == proof["leaf_hash"] and verify_inclusion(
            leaf,
            int(proof["index"]),
            int(proof["tree_size"]),
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(proof["root"]),
        )
    except (KeyError, ValueError, TypeError):
        return False
