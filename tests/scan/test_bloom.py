"""The registry's filter never rules out what was registered, and rules out most of
what was not."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.bloom import insert, may_hold, passing, words_for
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


def test_at_a_byte_per_fingerprint_few_strangers_pass() -> None:
    rng = np.random.default_rng(1)
    registered = rng.integers(0, 2**FP_BITS, 200_000, dtype=np.uint64)
    strangers = rng.integers(0, 2**FP_BITS, 200_000, dtype=np.uint64)
    bits = np.zeros(words_for(len(registered)), dtype=np.uint64)
    assert bits.nbytes <= len(registered)  # one byte per fingerprint at most
    insert(bits, registered)
    assert may_hold(bits, strangers).mean() < 0.05  # ~3% expected


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
