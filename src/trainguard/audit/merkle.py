"""RFC 9162 (and 6962) Merkle trees: hashes, an append-only tree, proofs.

leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right). The tree
keeps every complete, aligned subtree hash (level h, index i covers leaves
[i·2^h, (i+1)·2^h)), so the hash of any range a proof needs is O(log n)
lookups and a proof O(log² n) at worst — no re-hashing of the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# numpy and the compiled hashing loops are imported where trees are built, not
# here: proof checking (verify_inclusion, verify_consistency) needs only hashlib,
# and the standalone verifier imports nothing more.

_sha256 = hashlib.sha256


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = _sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree over leaf hashes."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self.extend(leaves)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        self.levels[0].append(leaf)
        level = 0
        # A node completes a pair when its index is odd: hash it with its sibling.
        while len(self.levels[level]) % 2 == 0:
            row = self.levels[level]
            parent = node_hash(row[-2], row[-1])
            if len(self.levels) == level + 1:
                self.levels.append([])
            self.levels[level + 1].append(parent)
            level += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append many leaves, hashing level by level (the same tree as repeated append)."""
        self.levels[0].extend(leaves)
        level = 0
        while len(self.levels[level]) >= 2:
            row = self.levels[level]
            if len(self.levels) == level + 1:
                self.levels.append([])
            parents = self.levels[level + 1]
            done, due = len(parents), len(row) // 2
            if due > done:
                parents.extend(_parents(row[2 * done : 2 * due]))
            level += 1

    def range_hash(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi): hi ≤ size, lo aligned as RFC 9162 recursion aligns it."""
        n = hi - lo
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = _split(n)
        return node_hash(self.range_hash(lo, lo + k), self.range_hash(lo + k, hi))

    def root(self, size: int | None = None) -> bytes:
        n = self.size if size is None else size
        if n > self.size or n < 0:
            raise ValueError(f"tree size {n} is beyond the log's {self.size} entries")
        return self.range_hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        n = self.size if size is None else size
        if not 0 <= index < n <= self.size:
            raise ValueError(f"no entry {index} in a tree of size {n}")
        proof: list[bytes] = []
        lo, hi = 0, n
        # Walk down from the root, collecting siblings; reversed at the end.
        while hi - lo > 1:
            k = _split(hi - lo)
            if index < lo + k:
                proof.append(self.range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.range_hash(lo, lo + k))
                lo = lo + k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        n = self.size if new_size is None else new_size
        if not 0 <= old_size <= n <= self.size:
            raise ValueError(f"no consistency proof from size {old_size} to {n}")
        if old_size == 0 or old_size == n:
            return []
        proof: list[bytes] = []
        lo, hi, m, complete = 0, n, old_size, True
        while True:
            size = hi - lo
            if m == size:
                if not complete:
                    proof.append(self.range_hash(lo, hi))
                break
            k = _split(size)
            if m <= k:
                proof.append(self.range_hash(lo + k, hi))
                hi = lo + k
            else:
                proof.append(self.range_hash(lo, lo + k))
                lo, m, complete = lo + k, m - k, False
        proof.reverse()
        return proof


def _parents(row: list[bytes]) -> list[bytes]:
    """Node hashes of consecutive pairs of ``row`` (an odd last one is left out)."""
    pairs = len(row) // 2
    if pairs == 0:
        return []
    import numpy as np

    from .._native.hashing import merkle_parents

    children = np.frombuffer(b"".join(row[: 2 * pairs]), dtype=np.uint8).reshape(-1, 32)
    return [p.tobytes() for p in merkle_parents(children)]


class MerkleFrontier:
    """The root of an append-only tree in O(log n) memory: only the unpaired
    subtree at each level is kept. For streams too long to hold every leaf
    (a gate manifest of twenty million rows); same root as :class:`MerkleTree`."""

    def __init__(self) -> None:
        self.size = 0
        self._pending: list[list[bytes]] = []

    def extend(self, leaves: Sequence[bytes] | np.ndarray) -> None:
        """Append leaves: 32-byte strings, or an (n, 32) uint8 array (hashed in bulk)."""
        import numpy as np

        from .._native.hashing import merkle_parents

        if isinstance(leaves, np.ndarray):
            carry = leaves.reshape(-1, 32)
        else:
            carry = np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(-1, 32)
        self.size += carry.shape[0]
        level = 0
        while carry.shape[0]:
            if len(self._pending) == level:
                self._pending.append([])
            if self._pending[level]:
                pending = np.frombuffer(self._pending[level][0], dtype=np.uint8).reshape(1, 32)
                carry = np.concatenate([pending, carry])
            self._pending[level] = [carry[-1].tobytes()] if carry.shape[0] % 2 else []
            carry = merkle_parents(carry)
            level += 1

    def to_bytes(self) -> bytes:
        """The pending subtree hashes, lowest level first (which levels hold one: the bits of size)."""
        return b"".join(node for row in self._pending for node in row)

    @classmethod
    def restore(cls, size: int, data: bytes) -> MerkleFrontier:
        """The frontier :meth:`to_bytes` wrote at ``size``, to extend from there."""
        if size < 0 or len(data) != 32 * size.bit_count():
            raise ValueError(f"a frontier at size {size} holds {size.bit_count()} hashes")
        frontier, at = cls(), 0
        frontier.size = size
        for level in range(size.bit_length()):
            if size >> level & 1:
                frontier._pending.append([data[at : at + 32]])
                at += 32
            else:
                frontier._pending.append([])
        return frontier

    def root(self) -> bytes:
        """Each pending node is a complete subtree; RFC 9162 joins them right to left."""
        root: bytes | None = None
        for row in self._pending:
            for node in row:
                root = node if root is None else node_hash(node, root)
        return EMPTY_ROOT if root is None else root


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2."""
    if old_size > new_size or old_size < 0:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
