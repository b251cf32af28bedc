"""Manifest rows, their Merkle leaves, and proofs that one record is in a manifest.

Every input record of a gate run is one manifest row. Its leaf in the
manifest's RFC 9162 tree is ``SHA-256(0x00 ‖ canonical JSON of the row)``,
the row being an object with exactly the keys of :data:`MANIFEST_SCHEMA`
(RFC 8785: sorted keys, no insignificant whitespace; absent values are
``null``, lists are kept in stored order). Anyone holding ``manifest.parquet``
can recompute every leaf and the root in ``manifest.json`` without trainguard.

The JSON text is assembled column-wise with Arrow string kernels; only the
rare strings that need JSON escaping go through a per-value encoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from ..errors import InputError, IntegrityError, NotFoundError
from .content import sha256_of_values

_STR_LIST = pa.list_(pa.string())

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("tenant", pa.string()),
        ("categories", _STR_LIST),
        ("collected_at", pa.string()),
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
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def _json_strings(col: pa.Array) -> pa.Array:
    """Each value as a JSON string literal (``null`` for nulls)."""
    col = col.cast(pa.string())
    quoted = pc.binary_join_element_wise('"', col, '"', "")
    special = pc.match_substring_regex(col, _NEEDS_ESCAPE)
    if pc.any(special).as_py():
        values = col.to_pylist()
        mask = special.to_pylist()
        quoted = pa.array(
            [
                orjson.dumps(v).decode() if m else q
                for v, m, q in zip(values, mask, quoted.to_pylist(), strict=True)
            ],
            pa.string(),
        )
    return pc.fill_null(quoted, "null")


def _json_lists(col: pa.Array) -> pa.Array:
    """Each list of strings as a JSON array (a null list is written ``[]``)."""
    col = col.cast(_STR_LIST)
    # ``offsets`` of a sliced list array still index the unsliced ``values``.
    inner = _json_strings(col.values) if len(col.values) else pa.array([], pa.string())
    lists = pa.ListArray.from_arrays(col.offsets, inner)
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def _json_field(name: str, col: pa.Array) -> pa.Array:
    if name == "allowed":
        return pc.if_else(col, "true", "false").fill_null("null")
    if pa.types.is_list(col.type):
        return _json_lists(col)
    return _json_strings(col)


def leaf_texts(rows: pa.Table | pa.RecordBatch) -> pa.Array:
    """``0x00 ‖ canonical JSON`` of every row, as one string array."""
    parts: list[Any] = ["\x00{"]
    for i, name in enumerate(_KEYS):
        col = rows.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        parts += [("," if i else "") + f'"{name}":', _json_field(name, col)]
    parts.append("}")
    joined: pa.Array = pc.binary_join_element_wise(*parts, "")
    return joined


def leaf_hashes(rows: pa.Table | pa.RecordBatch) -> list[bytes]:
    """The RFC 9162 leaf hash of every manifest row, in order."""
    if rows.num_rows == 0:
        return []
    return sha256_of_values(leaf_texts(rows))


def row_json(row: dict[str, Any]) -> bytes:
    """The canonical JSON of one manifest row (what its leaf hashes, after 0x00)."""
    from ..canonical import canonical_json

    lists = {f.name for f in MANIFEST_SCHEMA if pa.types.is_list(f.type)}
    return canonical_json({k: (row.get(k) or [] if k in lists else row.get(k)) for k in _KEYS})


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
        leaves.extend(leaf_hashes(batch))
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
