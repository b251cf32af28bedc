"""RFC 6962/9162 Merkle trees: published vectors, exhaustive and random proofs."""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.audit.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

# Certificate Transparency's reference test data (RFC 6962 implementations in
# C++ and Go use the same): eight entries and the tree head after each.
CT_ENTRIES = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.fixture(scope="module")
def ct_tree() -> MerkleTree:
    return MerkleTree(leaf_hash(bytes.fromhex(e)) for e in CT_ENTRIES)


def test_empty_tree_root_is_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree().root() == EMPTY_ROOT


def test_reference_roots(ct_tree: MerkleTree) -> None:
    assert [ct_tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_reference_inclusion_proofs(
    ct_tree: MerkleTree, index: int, size: int, expected: list[str]
) -> None:
    proof = ct_tree.inclusion_proof(index, size)
    assert [h.hex() for h in proof] == expected
    assert verify_inclusion(
        ct_tree.levels[0][index], index, size, proof, bytes.fromhex(CT_ROOTS[size - 1])
    )


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_reference_consistency_proofs(
    ct_tree: MerkleTree, old: int, new: int, expected: list[str]
) -> None:
    proof = ct_tree.consistency_proof(old, new)
    assert [h.hex() for h in proof] == expected
    assert verify_consistency(
        old, new, proof, bytes.fromhex(CT_ROOTS[old - 1]), bytes.fromhex(CT_ROOTS[new - 1])
    )


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def _reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from the RFC's recursive definition."""
    from trainguard.audit.merkle import node_hash

    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _memoized_reference(leaves: list[bytes]) -> Callable[[int, int], bytes]:
    """The RFC's recursive MTH over ``leaves[start:start + n]``, remembering subtrees:
    random sizes share their power-of-two subtrees, so every size stays cheap."""
    from trainguard.audit.merkle import node_hash

    @functools.cache
    def mth(start: int, n: int) -> bytes:
        if n == 0:
            return EMPTY_ROOT
        if n == 1:
            return leaves[start]
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(mth(start, k), mth(start + k, n - k))

    return mth


def test_every_proof_for_every_size_up_to_64() -> None:
    leaves = _leaves(64)
    tree = MerkleTree(leaves)
    roots = [tree.root(n) for n in range(65)]
    for n in range(65):
        assert roots[n] == _reference_root(leaves[:n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert verify_inclusion(leaves[i], i, n, proof, roots[n])
            assert not verify_inclusion(
                leaves[i], i, n, proof, roots[n - 1] if n > 1 else b"\x00" * 32
            )
            if proof:
                bad = [*proof[:-1], bytes(32)]
                assert not verify_inclusion(leaves[i], i, n, bad, roots[n])
                assert not verify_inclusion(leaves[i], i, n, proof[:-1], roots[n])
            if n > 1:
                assert (
                    not verify_inclusion(leaves[i], (i + 1) % n, n, proof, roots[n])
                    or leaves[i] == leaves[(i + 1) % n]
                )
        for m in range(n + 1):
            proof = tree.consistency_proof(m, n)
            assert verify_consistency(m, n, proof, roots[m], roots[n])
            if 0 < m < n:
                assert not verify_consistency(
                    m, n, proof, roots[m], roots[n - 1] if n - 1 != m else bytes(32)
                )
                assert not verify_consistency(m, n, [*proof[:-1], bytes(32)], roots[m], roots[n])


def test_random_proofs_in_large_trees() -> None:
    rng = random.Random(9162)
    leaves = _leaves(5000)
    tree = MerkleTree(leaves)
    reference = _memoized_reference(leaves)
    for _ in range(300):
        n = rng.randrange(1, 5001)
        i = rng.randrange(n)
        m = rng.randrange(n + 1)
        root = tree.root(n)
        assert root == reference(0, n)
        assert verify_inclusion(leaves[i], i, n, tree.inclusion_proof(i, n), root)
        assert verify_consistency(m, n, tree.consistency_proof(m, n), tree.root(m), root)


def test_out_of_range_requests_are_refused() -> None:
    tree = MerkleTree(_leaves(8))
    with pytest.raises(ValueError):
        tree.inclusion_proof(8, 8)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 3)
    with pytest.raises(ValueError):
        tree.root(9)
    assert not verify_inclusion(_leaves(1)[0], 8, 8, [], tree.root())
    assert not verify_consistency(8, 6, [], tree.root(8), tree.root(6))


@given(st.lists(st.integers(0, 40), max_size=12))
def test_bulk_extend_builds_the_same_tree_as_appending_one_by_one(chunks: list[int]) -> None:
    leaves = _leaves(sum(chunks))
    one_by_one, bulk = MerkleTree(), MerkleTree()
    for leaf in leaves:
        one_by_one.append(leaf)
    at = 0
    for n in chunks:
        bulk.extend(leaves[at : at + n])
        at += n
    assert bulk.levels == one_by_one.levels


@given(st.lists(st.integers(0, 70), max_size=10))
def test_frontier_root_equals_the_full_tree_root(chunks: list[int]) -> None:
    leaves = _leaves(sum(chunks))
    frontier = MerkleFrontier()
    at = 0
    for n in chunks:
        frontier.extend(leaves[at : at + n])
        at += n
        assert frontier.root() == MerkleTree(leaves[:at]).root()
    assert frontier.size == len(leaves)


@given(st.integers(0, 300), st.integers(0, 300))
def test_a_stored_frontier_extends_to_the_same_root_as_the_whole_tree(kept: int, more: int) -> None:
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(kept + more)]
    first = MerkleFrontier()
    first.extend(leaves[:kept])
    saved = first.to_bytes()
    assert len(saved) == 32 * kept.bit_count()
    resumed = MerkleFrontier.restore(kept, saved)
    resumed.extend(leaves[kept:])
    assert resumed.size == kept + more
    assert resumed.root() == MerkleTree(leaves).root()


def test_a_frontier_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="holds 2 hashes"):
        MerkleFrontier.restore(5, b"\0" * 32)
