"""Tamper-evident audit log: RFC 9162 Merkle tree, signed checkpoints, proofs.

The names below load on first use: the signing code (cryptography) is not
needed to append an entry, and a single decision appends one (audit/entry.py).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .merkle import MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
    from .note import Checkpoint, Signer, VerifierKey

_HOMES = {
    "Checkpoint": "note",
    "Signer": "note",
    "VerifierKey": "note",
    "MerkleTree": "merkle",
    "leaf_hash": "merkle",
    "node_hash": "merkle",
    "verify_consistency": "merkle",
    "verify_inclusion": "merkle",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{home}", __name__), name)


__all__ = [
    "Checkpoint",
    "MerkleTree",
    "Signer",
    "VerifierKey",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]
