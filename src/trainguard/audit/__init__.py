"""Tamper-evident audit log: RFC 9162 Merkle tree, signed checkpoints, proofs."""

from .merkle import MerkleTree, leaf_hash, node_hash, verify_consistency, verify_inclusion
from .note import Checkpoint, Signer, VerifierKey

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
