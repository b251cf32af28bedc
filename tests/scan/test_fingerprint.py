"""Normalization and keyed fingerprints, on the real meeting transcripts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan import new_key, ngram_fingerprints, tokenize, transcript_text
from trainguard.scan.fingerprint import (
    keyed,
    keyed_reference,
    permute,
    permute_reference,
    platform_fingerprints,
    platform_fingerprints_reference,
    siphash24_reference,
    siphash24_word,
    unpermute,
    unpermute_reference,
    window_hashes,
    window_hashes_reference,
)

from ..conftest import meeting_rows


def test_siphash_matches_the_reference_vector() -> None:
    # SipHash-2-4 reference (vectors.h): key 00..0f, message 00..07.
    assert (
        siphash24_word(bytes(range(16)), int.from_bytes(bytes(range(8)), "little"))
        == 0x93F5F5799A932462
    )


def test_case_punctuation_wrapping_and_labels_do_not_matter() -> None:
    a = tokenize("Yeah, we had a long discussion about how easy we want to make it.")
    b = tokenize(
        "Grad C: YEAH we had a\nlong   discussion -- about how\n[00:01:02] PhD D: easy we want to make it"
    )
    assert a.words == b.words


def test_offsets_point_into_the_original_text() -> None:
    text = "PhD F: Oh, that 's GOOD. Cuz we have ＡＢＣ ﬁne"
    t = tokenize(text)
    assert [text[s:e] for s, e in zip(t.starts, t.ends, strict=True)] == [
        "Oh",
        "that",
        "s",
        "GOOD",
        "Cuz",
        "we",
        "have",
        "ＡＢＣ",
        "ﬁne",
    ]
    assert t.words[-2:] == ["abc", "fine"]


def test_text_without_spaces_is_tokenized_per_character() -> None:
    t = tokenize("会議の内容は機密です")
    assert len(t) == 10


def test_fingerprints_are_keyed() -> None:
    t = tokenize("one two three four five six seven eight nine ten eleven twelve thirteen fourteen")
    platform, k1, k2 = new_key(), new_key(), new_key()
    a, b = ngram_fingerprints(t, platform, k1), ngram_fingerprints(t, platform, k1)
    assert len(a) == 2 and np.array_equal(a, b)
    assert not np.intersect1d(a, ngram_fingerprints(t, platform, k2)).size
    assert not np.intersect1d(a, ngram_fingerprints(t, new_key(), k1)).size


@pytest.mark.jit_only
def test_registered_meetings_share_fingerprints_only_with_themselves() -> None:
    rows = meeting_rows()
    keys = new_key(), new_key()
    prints = [
        set(ngram_fingerprints(tokenize(transcript_text(r["turns"])), *keys).tolist()) for r in rows
    ]
    # A fragment of 20 words from inside meeting 0, reformatted, matches meeting 0.
    words = tokenize(transcript_text(rows[0]["turns"])).words[500:520]
    alone = set(ngram_fingerprints(tokenize(" ".join(words)), *keys).tolist())
    pasted = tokenize(
        "Something else entirely.\nBob: " + " ".join(w.upper() for w in words) + " -- the end"
    )
    assert len(alone) == 8 and alone <= prints[0]
    assert alone <= set(ngram_fingerprints(pasted, *keys).tolist())
    # Unrelated meetings share at most a handful of 13-grams (boilerplate), never most of one.
    for i in range(1, len(prints)):
        assert len(prints[0] & prints[i]) < 0.01 * len(prints[i])


@pytest.mark.jit_only
def test_the_tenant_permutation_is_a_keyed_bijection_of_48_bit_values() -> None:
    from trainguard.scan.fingerprint import FP_BITS, key_words, permute, unpermute

    rng = np.random.default_rng(3)
    p = np.unique(rng.integers(0, 2**FP_BITS, 100_000, dtype=np.uint64))
    p = np.concatenate([p, np.array([0, 2**FP_BITS - 1], dtype=np.uint64)])
    k, other = key_words(new_key()), key_words(new_key())
    fps = permute(p, *k)
    assert int(fps.max()) < 2**FP_BITS
    assert len(np.unique(fps)) == len(p)  # no two values meet
    assert np.array_equal(unpermute(fps, *k), p)
    assert not np.array_equal(unpermute(fps, *other), p)
    assert np.mean(permute(p, *other) == fps) < 1e-3  # another tenant: other fingerprints


# --- each kernel held to its plain reference --------------------------------------------

_WORDS = st.lists(st.integers(0, 2**64 - 1), max_size=40)
_KEYS = st.tuples(st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))


def test_the_siphash_reference_matches_the_published_vectors() -> None:
    # SipHash-2-4 paper, appendix A: key 00..0f; messages 00..0e and the empty one.
    k0, k1 = (int.from_bytes(bytes(range(a, a + 8)), "little") for a in (0, 8))
    assert siphash24_reference(k0, k1, bytes(range(15))) == 0xA129CA6149BE45E5
    assert siphash24_reference(k0, k1, b"") == int.from_bytes(
        bytes.fromhex("310e0edd47db6f72"), "little"
    )


@given(_WORDS, _KEYS)
def test_keyed_and_platform_fingerprints_match_the_reference(
    values: list[int], key: tuple[int, int]
) -> None:
    array, k0, k1 = np.array(values, dtype=np.uint64), np.uint64(key[0]), np.uint64(key[1])
    assert keyed(array, k0, k1).tolist() == keyed_reference(values, *key)
    assert platform_fingerprints(array, k0, k1).tolist() == platform_fingerprints_reference(
        values, *key
    )


@given(st.lists(st.integers(0, 2**48 - 1), max_size=40), _KEYS)
def test_permute_and_unpermute_match_the_reference(values: list[int], key: tuple[int, int]) -> None:
    array, k0, k1 = np.array(values, dtype=np.uint64), np.uint64(key[0]), np.uint64(key[1])
    assert permute(array, k0, k1).tolist() == permute_reference(values, *key)
    assert unpermute(array, k0, k1).tolist() == unpermute_reference(values, *key)


@given(_WORDS, st.integers(1, 15))
def test_window_hashes_match_the_unrolled_sum(hashes: list[int], n: int) -> None:
    got = window_hashes(np.array(hashes, dtype=np.uint64), n)
    assert got.tolist() == window_hashes_reference(hashes, n)
