"""Manifest rows, their Merkle tree, and proofs that one record is in a manifest.

Every input record of a gate run is one manifest row, and one leaf of the
manifest's RFC 9162 tree (how a row becomes a leaf: :mod:`.leaves`). Anyone
holding ``manifest.parquet`` can recompute every leaf and the root in
``manifest.json`` without trainguard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from ..errors import InputError, IntegrityError, NotFoundError
from ..limits import read_json_file
from ..timeutil import format_instant
from .leaves import LEAF_FORMAT, leaf_hashes, reference_leaf

_STR_LIST = pa.list_(pa.string())

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("tenant", pa.string()),
        ("categories", _STR_LIST),
        ("collected_at", pa.timestamp("us", tz="UTC")),
        ("subjects", _STR_LIST),
        ("derived_from", _STR_LIST),
        ("content_sha256", pa.binary(32)),
        ("allowed", pa.bool_()),
        ("reasons", _STR_LIST),
        ("rules", _STR_LIST),
        ("policy_at_use", pa.string()),
        ("policy_at_collection", pa.string()),
        ("consents", _STR_LIST),
    ]
)

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


# --- reading a manifest back ---------------------------------------------------------


def read_manifest(out_dir: str | Path) -> tuple[dict[str, Any], pa.Table]:
    """``manifest.json`` and ``manifest.parquet`` of a gate output folder."""
    d = Path(out_dir)
    if not (d / "manifest.json").exists():
        raise NotFoundError(f"{d}: no manifest.json (not a gate output folder)")
    meta = read_json_file(d / "manifest.json")
    if not isinstance(meta, dict):
        raise InputError(f"{d / 'manifest.json'}: not a gate manifest (expected a JSON object)")
    try:
        table = pq.read_table(d / "manifest.parquet")
    except FileNotFoundError:
        raise NotFoundError(f"{d}: no manifest.parquet") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{d / 'manifest.parquet'}: not a readable Parquet file ({exc})") from None
    if table.schema.names != MANIFEST_SCHEMA.names:
        raise IntegrityError(f"{d / 'manifest.parquet'}: columns are not a trainguard manifest's")
    leaf = meta.get("merkle", {}).get("leaf") if isinstance(meta, dict) else None
    if leaf != LEAF_FORMAT:
        raise IntegrityError(
            f"{d / 'manifest.json'}: leaves of another format ({leaf!r}) than this "
            "trainguard's; gate the data again to get a manifest it can check"
        )
    try:
        table = table.cast(MANIFEST_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise IntegrityError(
            f"{d / 'manifest.parquet'}: column types are not a trainguard manifest's"
        ) from None
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


def prove_record(out_dir: str | Path, record_id: str, tenant: str | None = None) -> dict[str, Any]:
    """An RFC 9162 inclusion proof that the row of ``record_id`` is in the manifest.

    Ids are unique within a tenant: when two tenants have a record of this id,
    ``tenant`` must say whose. A manifest holding one (tenant, id) twice (written
    before gate runs refused that) names no single row, and is refused."""
    meta, table = read_manifest(out_dir)
    index = _row_of(out_dir, table, record_id, tenant)
    tree = manifest_tree(table)
    root = tree.root()
    if meta.get("merkle", {}).get("root") != root.hex():
        raise IntegrityError(f"{out_dir}: manifest.parquet does not match manifest.json's root")
    row = table.slice(index, 1).to_pylist()[0]
    if row["collected_at"] is not None:
        row["collected_at"] = format_instant(row["collected_at"])
    if row["content_sha256"] is not None:
        row["content_sha256"] = row["content_sha256"].hex()
    return {
        "type": "manifest_inclusion",
        "index": index,
        "tree_size": tree.size,
        "row": row,
        "leaf_hash": tree.levels[0][index].hex(),
        "root": root.hex(),
        "proof": [h.hex() for h in tree.inclusion_proof(index)],
    }


def _row_of(out_dir: str | Path, table: pa.Table, record_id: str, tenant: str | None) -> int:
    match = pc.equal(table.column("id"), record_id)
    if tenant is not None:
        match = pc.and_(match, pc.equal(table.column("tenant"), tenant))
    rows = np.flatnonzero(match.to_numpy(zero_copy_only=False)).tolist()
    whose = f" of tenant {tenant!r}" if tenant is not None else ""
    if not rows:
        raise NotFoundError(f"{out_dir}: no record {record_id!r}{whose} in the manifest")
    tenants = table.column("tenant").take(pa.array(rows)).to_pylist()
    if len(set(tenants)) > 1:
        names = ", ".join(repr(t) for t in sorted(set(tenants)))
        raise InputError(
            f"{out_dir}: record id {record_id!r} is held by tenants {names}; "
            "say whose with --tenant"
        )
    if len(rows) > 1:
        listed = ", ".join(str(r) for r in rows)
        raise InputError(
            f"{out_dir}: record id {record_id!r} of tenant {tenants[0]!r} is in rows {listed} "
            "of this manifest (written before ids had to be unique within a tenant); "
            "no single row to prove: gate the data again"
        )
    return int(rows[0])


def check_record_proof(proof: dict[str, Any]) -> bool:
    """Check a proof from :func:`prove_record` using only the proof itself and its root."""
    try:
        leaf = leaf_hash(reference_leaf(proof["row"]))
        return leaf.hex() == proof["leaf_hash"] and verify_inclusion(
            leaf,
            int(proof["index"]),
            int(proof["tree_size"]),
            [bytes.fromhex(h) for h in proof["proof"]],
            bytes.fromhex(proof["root"]),
        )
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError):
        return False  # a proof of another shape proves nothing
