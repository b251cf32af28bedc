"""Bulk SHA-256 must agree with hashlib, on the native path and on the fallback."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard._native import hashing


@pytest.fixture(params=["native", "hashlib"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "hashlib":
        monkeypatch.setattr(hashing, "_ADDRESSES", None)
        monkeypatch.setattr(hashing, "_ADDRESSES_LOADED", True)
    elif not hashing.native():
        pytest.skip("native loop off (no libcrypto, or NUMBA_DISABLE_JIT=1): hashlib only")
    return str(request.param)


@given(st.lists(st.binary(max_size=300), max_size=40))
def test_many_messages_hash_like_hashlib(messages: list[bytes]) -> None:
    hashing.native()  # load (and compile) once, so the save/restore below keeps it
    for use_native in (True, False):
        saved = hashing._ADDRESSES, hashing._ADDRESSES_LOADED
        if not use_native:
            hashing._ADDRESSES, hashing._ADDRESSES_LOADED = None, True
        try:
            offsets = np.concatenate([[0], np.cumsum([len(m) for m in messages])])
            out = hashing.sha256_many(b"".join(messages), offsets)
        finally:
            hashing._ADDRESSES, hashing._ADDRESSES_LOADED = saved
        assert [row.tobytes() for row in out] == [hashlib.sha256(m).digest() for m in messages]


def test_merkle_parents_are_rfc9162_nodes(path: str) -> None:
    leaves = np.frombuffer(
        b"".join(hashlib.sha256(bytes([i])).digest() for i in range(5)), np.uint8
    )
    children = leaves.reshape(5, 32)
    parents = hashing.merkle_parents(children)
    assert parents.shape == (2, 32)
    expected = hashlib.sha256(b"\x01" + children[2].tobytes() + children[3].tobytes()).digest()
    assert parents[1].tobytes() == expected


def test_offsets_outside_the_buffer_are_refused() -> None:
    with pytest.raises(ValueError):
        hashing.sha256_many(b"abc", np.array([0, 5]))


def test_a_prefix_is_hashed_before_each_message(path: str) -> None:
    out = hashing.sha256_many(b"abcdef", np.array([0, 2, 6]), prefix=b"\x00")
    assert [r.tobytes() for r in out] == [
        hashlib.sha256(b"\x00ab").digest(),
        hashlib.sha256(b"\x00cdef").digest(),
    ]
