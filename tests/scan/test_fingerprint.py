"""Normalization and keyed fingerprints, on the real meeting transcripts."""

from __future__ import annotations

import numpy as np

from trainguard.scan import new_key, ngram_fingerprints, tokenize, transcript_text
from trainguard.scan.fingerprint import siphash24_word

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
