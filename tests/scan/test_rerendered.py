"""A registered transcript, re-rendered the way viewers show it and people paste it,
normalizes to the very same tokens — and a fragment of it is still found.

Registered transcripts keep the tokenized punctuation of their source
(``do n't``, ``it 's``, ``fine .``) and no speaker labels; what leaks has its
contractions joined, upper-case speaker labels (on the turn's line, on a line
of their own, or inside one long paragraph), bracketed timestamps, and lines
wrapped anywhere.
"""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan import Matcher, Registry, ScanConfig, tokenize

from ..conftest import meeting_rows
from .rerender import LAYOUTS, join_clitics, render

_WORD = st.one_of(
    st.sampled_from(["so", "we", "do", "ca", "wo", "it", "is", "own", "Anna", "Okay", "I"]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12),
)
_CLITIC = st.sampled_from(["n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "N'T", "'S"])
_PUNCT = st.sampled_from([",", ".", "?", "!", ";"])
# A turn as the registered transcripts have it: words, clitics and punctuation
# each a token of their own, separated by single spaces (never a colon).
_TURN = st.lists(
    st.one_of(_WORD, _WORD, _WORD, st.tuples(_WORD, _CLITIC).map(" ".join), _PUNCT),
    max_size=25,
).map(" ".join)
_LABEL_WORD = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
_LABEL = st.tuples(
    st.lists(_LABEL_WORD, min_size=1, max_size=4).map(" ".join).filter(lambda s: len(s) <= 40),
    st.one_of(
        st.just(""),
        st.lists(
            st.one_of(_LABEL_WORD, st.just("of"), st.just("and,")), min_size=1, max_size=6
        ).map(lambda words: f" ({' '.join(words)})"),
    ),
).map("".join)
_TURNS = st.lists(st.tuples(_LABEL, _TURN), min_size=1, max_size=8)


def as_registered(turns: list[tuple[str, str]]) -> list[int]:
    """The token hashes of the transcript as registered: its turns' text, one a line."""
    return tokenize("\n".join(text for _, text in turns)).hashes.tolist()


@given(_TURN, st.sampled_from(["'", "\u2019"]))
def test_contractions_joined_or_apart_are_the_same_tokens(text: str, apostrophe: str) -> None:
    # "do n't" and "don't" (and "ca n't"/"can't", "it 's"/"it's", typeset apostrophes).
    joined = join_clitics(text, apostrophe)
    assert tokenize(joined).hashes.tolist() == tokenize(text).hashes.tolist()
    assert tokenize(joined.upper()).hashes.tolist() == tokenize(text).hashes.tolist()


def test_the_clitic_not_is_one_token_whichever_way_it_is_written() -> None:
    for text in ("I do n't know", "I don't know", "I DON'T KNOW", "I don\u2019t know"):
        assert tokenize(text).words == ["i", "do", "n't", "know"], text
    assert tokenize("ca n't wo n't").words == tokenize("can't won't").words == [
        "ca", "n't", "wo", "n't",
    ]  # fmt: skip
    # Not a clitic: a word goes on after it, or no n before it.
    assert tokenize("n'tx don'ts it't").words == ["n", "tx", "don", "ts", "it", "t"]


@given(_TURNS, st.sampled_from(["same_line", "label_line"]), st.integers(24, 80))
def test_upper_case_labels_on_the_line_or_their_own_or_wrapped_are_skipped(
    turns: list[tuple[str, str]], layout: str, width: int
) -> None:
    shown = render(turns, layout, width, stamps=False)
    assert tokenize(shown).hashes.tolist() == as_registered(turns)


@given(_TURNS, st.sampled_from(LAYOUTS), st.integers(24, 80))
def test_bracketed_timestamps_are_skipped_and_a_label_after_one_too(
    turns: list[tuple[str, str]], layout: str, width: int
) -> None:
    # In one paragraph the timestamps and labels stand inside lines, wrapped anywhere.
    shown = render(turns, layout, width)
    assert tokenize(shown).hashes.tolist() == as_registered(turns)


@given(_TURNS, st.sampled_from(LAYOUTS), st.integers(24, 80), st.sampled_from(["'", "\u2019"]))
def test_every_re_rendering_at_once_is_the_same_tokens(
    turns: list[tuple[str, str]], layout: str, width: int, apostrophe: str
) -> None:
    shown = render([(s, join_clitics(t, apostrophe)) for s, t in turns], layout, width)
    assert tokenize(shown).hashes.tolist() == as_registered(turns)


def test_re_rendered_fragments_of_registered_meetings_are_found(registered: Registry) -> None:
    """Fragments of 25-90 words running across turns of the real transcripts, each in
    every layout, contractions joined, wrapped at 44 columns."""
    rows = {r["meeting_id"]: r["turns"] for r in meeting_rows()}
    items = sorted(i.id for i in registered.items().values())
    matcher = Matcher(registered, ScanConfig(min_confidence=0.0))
    rng = random.Random(8)
    for _ in range(30):
        item = rng.choice(items)
        flat = [(k, w) for k, t in enumerate(rows[item]) for w in t["content"].split()]
        words = rng.randrange(25, 91)
        at = rng.randrange(0, len(flat) - words)
        turns: list[tuple[str, str]] = []
        for k, w in flat[at : at + words]:
            if turns and turns[-1][0] == str(k):
                turns[-1] = (str(k), turns[-1][1] + " " + w)
            else:
                turns.append((str(k), w))
        fragment = [(rows[item][int(k)]["speaker"], join_clitics(t)) for k, t in turns]
        for layout in LAYOUTS:
            doc = "Posted on a forum:\n" + render(fragment, layout, 44) + "\nThanks."
            spans, _ = matcher.scan(doc)
            assert any(item in s.items for s in spans), (layout, doc)
