"""The registry's filter never rules out what was registered, and rules out most of
what was not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.bloom import (
    insert,
    insert_reference,
    may_hold,
    may_hold_reference,
    passing,
    passing_reference,
    words_for,
)
from trainguard.scan.fingerprint import FP_BITS, key_words, new_key, platform_fingerprints

fingerprints = st.lists(st.integers(0, 2**FP_BITS - 1), max_size=400)


@given(fingerprints, st.integers(1, 64))
def test_every_inserted_fingerprint_may_be_held(values: list[int], words: int) -> None:
    bits = np.zeros(words, dtype=np.uint64)
    p = np.array(values, dtype=np.uint64)
    insert(bits, p)
    assert may_hold(bits, p).all()


def test_an_empty_filter_holds_nothing() -> None:
    p = np.arange(1000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # any 64 bits
    assert not may_hold(np.zeros(words_for(0), dtype=np.uint64), p).any()


@pytest.mark.jit_only
def test_few_strangers_pass_built_or_filled_to_twice_its_size() -> None:
    rng = np.random.default_rng(1)
    registered = rng.integers(0, 2**FP_BITS, 400_000, dtype=np.uint64)
    strangers = rng.integers(0, 2**FP_BITS, 400_000, dtype=np.uint64)
    bits = np.zeros(words_for(len(registered) // 2), dtype=np.uint64)
    assert bits.nbytes <= len(registered)  # two bytes per fingerprint, built for half
    insert(bits, registered[: len(registered) // 2])
    assert may_hold(bits, strangers).mean() < 0.01  # as built: ~0.4% expected
    insert(bits, registered[len(registered) // 2 :])
    assert may_hold(bits, strangers).mean() < 0.05  # grown to twice its size: ~3%


@given(st.lists(st.integers(0, 2**64 - 1), max_size=200), st.data())
def test_passing_is_the_platform_fingerprints_the_filter_may_hold(
    values: list[int], data: st.DataObject
) -> None:
    k0, k1 = key_words(new_key())
    windows = np.array(values, dtype=np.uint64)
    p = platform_fingerprints(windows, k0, k1)
    bits = np.zeros(4, dtype=np.uint64)
    chosen = data.draw(st.sets(st.integers(0, max(len(values) - 1, 0))))
    insert(bits, p[sorted(i for i in chosen if i < len(values))])
    rows, passed = passing(bits, windows, k0, k1)
    expected = np.flatnonzero(may_hold(bits, p))
    assert rows.tolist() == expected.tolist()
    assert passed.tolist() == p[expected].tolist()


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=100),
    st.lists(st.integers(0, 2**64 - 1), max_size=100),
    st.integers(1, 16),
    st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
)
def test_the_filter_kernels_match_their_references(
    inserted: list[int], asked: list[int], words: int, key: tuple[int, int]
) -> None:
    bits = np.zeros(words, dtype=np.uint64)
    insert(bits, np.array(inserted, dtype=np.uint64))
    reference = [0] * words
    insert_reference(reference, inserted)
    assert bits.tolist() == reference
    queries = np.array(asked + inserted, dtype=np.uint64)
    assert may_hold(bits, queries).tolist() == may_hold_reference(reference, asked + inserted)
    rows, passed = passing(
        bits, np.array(asked, dtype=np.uint64), np.uint64(key[0]), np.uint64(key[1])
    )
    assert (rows.tolist(), passed.tolist()) == passing_reference(reference, asked, *key)
