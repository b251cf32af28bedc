"""The tokenizer works on UTF-8 bytes; these properties tie it back to the text.

Every token's offsets must slice the original string, its hash must be the
hash of that slice's normalized form, and a batch of documents must tokenize
exactly as each document alone — whatever the script, including astral
characters, combining marks, lone surrogates and the characters NFKC changes.
"""

from __future__ import annotations

import unicodedata

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan import tokenize
from trainguard.scan.normalize import (
    BatchTokenizer,
    _compute_char_classes,
    char_classes,
    hash_utf8,
    hash_utf8_reference,
    tokenize_reference,
    word_hash,
)

_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(" \n\t:.-'[]()0aZé日本語ไทยำ가ﬁ①ＡＢ\u0301\U00020000ゟ\u2019nNtT"),
        st.characters(),  # any code point, surrogates included
    ),
    max_size=60,
)


def is_not_clitic(token: str) -> bool:
    """The one token that is not a run of word characters: n't (see test_rerendered)."""
    return token.casefold().replace("\u2019", "'") == "n't"


@given(_TEXT)
def test_every_token_is_its_slice_of_the_text_normalized_and_hashed(text: str) -> None:
    t = tokenize(text, strip_labels=False)
    assert np.all(t.starts < t.ends) and np.all(t.ends[:-1] <= t.starts[1:])
    classes = char_classes()
    for s, e, h in zip(t.starts.tolist(), t.ends.tolist(), t.hashes.tolist(), strict=True):
        word = text[s:e]
        assert is_not_clitic(word) or all(classes[ord(c)] != 0 for c in word)
        assert h == word_hash(word)
    # What lies between tokens is separators only.
    covered = np.zeros(len(text) + 1, dtype=np.int64)
    np.add.at(covered, t.starts, 1)
    np.add.at(covered, t.ends, -1)
    inside = np.cumsum(covered)[: len(text)] > 0
    assert all(classes[ord(c)] == 0 for c, i in zip(text, inside, strict=True) if not i)


@given(st.lists(_TEXT, min_size=1, max_size=6))
def test_a_batch_tokenizes_as_each_document_alone(texts: list[str]) -> None:
    hashes, docs = BatchTokenizer()(texts)
    alone = [tokenize(t) for t in texts]
    assert hashes.tolist() == [h for t in alone for h in t.hashes.tolist()]
    assert docs.tolist() == [i for i, t in enumerate(alone) for _ in range(len(t))]


def test_characters_that_nfkc_changes_hash_as_their_normal_form() -> None:
    # Thai SARA AM and the kana digraph YORI are one token each, hashed as NFKC makes them.
    for c in ("\u0e33", "\u309f", "\uf900"):
        t = tokenize(c)
        assert len(t) == 1
        assert int(t.hashes[0]) == word_hash(unicodedata.normalize("NFKC", c))


def test_the_cached_character_table_is_the_computed_one() -> None:
    assert np.array_equal(char_classes(), _compute_char_classes())


_ASCII_TEXT = st.lists(
    st.one_of(
        st.text(alphabet=" \n\t:.,-'[]()>0123456789aZzAbcdefghijklmnopqrstuvwxyz", max_size=12),
        st.sampled_from(["\nGrad C: ", "\n[00:01:23] ", "\n00:01:23,456 --> 00:01:25,000\n"]),
        st.sampled_from(["Dr. Jane Doe: ", "Supercalifragilistic ", "abcdefgh ", "x" * 17]),
        st.sampled_from(["\nGRAD\nC:", "\nPHD D:\n", " [01:02:03] MR. X (A\nB, C): ", "(", ")"]),
        st.sampled_from(["don't ", "do n't", "N'T", "n't", "'s ", "wasn'", "can't\n", "'t"]),
        st.text(alphabet=st.characters(max_codepoint=127), max_size=8),
    ),
    max_size=14,
).map("".join)


@given(st.lists(_ASCII_TEXT, min_size=1, max_size=8), st.lists(_TEXT, max_size=3))
def test_labels_timestamps_and_long_words_tokenize_in_a_batch_as_alone(
    ascii_texts: list[str], other: list[str]
) -> None:
    # Speaker labels, timestamps and words longer than eight bytes at line starts and
    # document edges, mixed with documents of other scripts in one batch.
    texts = ascii_texts[:2] + other + ascii_texts[2:]
    hashes, docs = BatchTokenizer()(texts)
    alone = [tokenize(t) for t in texts]
    assert hashes.tolist() == [h for t in alone for h in t.hashes.tolist()]
    assert docs.tolist() == [i for i, t in enumerate(alone) for _ in range(len(t))]


# Bytes at the edges of the ranges the eight-bytes-at-a-time scan tests by arithmetic
# ('/' '0' '9' ':' '@' 'A' 'Z' '[' '`' 'a' 'z' '{', DEL, controls that OR 0x20 would
# turn into digits), words around eight bytes long, and words that go on beyond ASCII.
_EDGE_TEXT = st.lists(
    st.one_of(
        st.text(alphabet="/09:@AZ[`az{\x7f\x10\x19\x00 \n", max_size=10),
        st.sampled_from(["abcdefg", "abcdefgh", "abcdefghi", "x" * 16, "Y" * 17, "é", "日"]),
        st.sampled_from(["n't", "abcdefghn't", "én't", "n\u2019t", "N'T", "don'", "'t", "n'"]),
        st.text(alphabet=st.characters(max_codepoint=127), max_size=20),
    ),
    max_size=20,
).map("".join)


@given(_EDGE_TEXT, st.booleans())
def test_words_are_maximal_runs_and_hash_as_their_normalized_slice(text: str, labels: bool) -> None:
    t = tokenize(text, strip_labels=labels)
    classes = char_classes()
    spans = list(zip(t.starts.tolist(), t.ends.tolist(), t.hashes.tolist(), strict=True))
    for s, e, h in spans:
        assert is_not_clitic(text[s:e]) or all(classes[ord(c)] != 0 for c in text[s:e])
        assert h == word_hash(text[s:e])
        # Maximal: a word does not stop before a word character (but for a character
        # of an unspaced script, which is a token of its own, and before n't).
        inside_a_word = e < len(text) and classes[ord(text[e])] == classes[ord(text[e - 1])] == 1
        if inside_a_word and not is_not_clitic(text[e : e + 3]):
            raise AssertionError(f"token {text[s:e]!r} stops before {text[e]!r}")
    if not labels:  # every word character is in a token
        inside = np.zeros(len(text), dtype=bool)
        for s, e, _ in spans:
            inside[s:e] = True
        assert all(inside[i] for i, c in enumerate(text) if classes[ord(c)] != 0)


def test_the_token_hash_reads_eight_bytes_at_a_time() -> None:
    """The definition, on its own: chunks of eight little-endian bytes, the last one
    zero-padded, the length last; so "abcdefgh" and "abcdefgh\\0" differ by length only."""
    from trainguard.scan.normalize import hash_utf8

    words = [b"", b"a", b"abcdefgh", b"abcdefghi", b"abcdefgh\0"]
    data = np.frombuffer(b"".join(words), dtype=np.uint8)
    offsets = np.cumsum([0] + [len(w) for w in words])
    hashes = hash_utf8(data, offsets).tolist()
    assert len(set(hashes)) == len(words)
    assert hashes[1] == word_hash("A")


@given(st.lists(st.sampled_from(["a", " ", "日", "é", "\n", "ab", "1"]), max_size=200))
def test_the_token_buffers_are_never_too_small(pieces: list[str]) -> None:
    """The tokenizer's buffers hold most_tokens(bytes): densest text, by construction."""
    from trainguard.scan.normalize import most_tokens, utf8

    text = "".join(pieces)
    assert len(tokenize(text, strip_labels=False)) <= most_tokens(len(utf8(text)))
    # The densest texts there are: one-byte words between one-byte separators, and
    # characters of an unspaced script, each a token.
    for dense in ("a " * 50 + "a", "日" * 50, "a日" * 30):
        assert len(tokenize(dense, strip_labels=False)) <= most_tokens(len(utf8(dense)))


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_the_token_hash_matches_its_reference(words: list[bytes]) -> None:
    offsets = np.cumsum([0] + [len(w) for w in words])
    data = np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8)
    assert hash_utf8(data, offsets).tolist() == [hash_utf8_reference(w) for w in words]


@given(_EDGE_TEXT | _TEXT)
def test_the_tokenizer_matches_its_reference(text: str) -> None:
    t = tokenize(text, strip_labels=False)
    got = list(zip(t.starts.tolist(), t.ends.tolist(), t.hashes.tolist(), strict=True))
    assert got == tokenize_reference(text)


def test_the_tokenizer_reference_reads_as_its_definition() -> None:
    spans = [(a, b) for a, b, _ in tokenize_reference("Don't go, n’t 日本 x_y")]
    assert spans == [(0, 2), (2, 5), (6, 8), (10, 13), (14, 15), (15, 16), (17, 18), (19, 20)]
