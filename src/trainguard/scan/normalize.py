"""The one normalization applied to registered content and to every scanned corpus.

Text becomes a sequence of tokens with character offsets into the original:
words are runs of letters and digits (Unicode-aware), each normalized with
NFKC and case-folded, so case, punctuation, whitespace, line wrapping and
compatibility forms (full-width letters, ligatures) do not matter. Scripts
written without spaces between words (Han, Kana, Hangul syllables, Thai, Lao,
Khmer, Myanmar) become one token per character, so such text is fingerprinted
rather than seen as one giant "word" and silently missed. Speaker labels and
timestamps at the start of a line ("Grad C:", "[00:01:23]") are skipped, so a
transcript pasted with its labels still matches the same words registered
without them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

# Characters that form a token each: scripts without word spaces.
_UNSPACED = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0002fa1f"  # CJK extensions B–F, compatibility supplement
)
_TOKEN = re.compile(rf"[{_UNSPACED}]|(?:(?![{_UNSPACED}])[^\W_])+")
# At a line start: an optional timestamp, then an optional short speaker label.
_LINE_PREFIX = re.compile(
    r"^[ \t]*(?:[\[(]?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?[\])]?[ \t]*(?:-->[^\n]*)?)?"
    r"(?:[A-Z][\w .'-]{0,40}?:[ \t])?",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Tokens:
    """Normalized tokens and where each one sits in the original text."""

    words: list[str]
    starts: np.ndarray  # int64 character offsets
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.words)


def _label_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _LINE_PREFIX.finditer(text) if m.end() > m.start()]


def tokenize(text: str, *, strip_labels: bool = True) -> Tokens:
    """Tokens of ``text``, normalized, with offsets into ``text`` itself."""
    skip = _label_spans(text) if strip_labels else []
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    si = 0
    for m in _TOKEN.finditer(text):
        s, e = m.span()
        while si < len(skip) and skip[si][1] <= s:
            si += 1
        if si < len(skip) and skip[si][0] <= s < skip[si][1]:
            continue
        word = m.group()
        if not word.isascii():
            word = unicodedata.normalize("NFKC", word)
        words.append(word.casefold())
        starts.append(s)
        ends.append(e)
    return Tokens(words, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64))


def transcript_text(turns: list[dict[str, object]]) -> str:
    """The words of a transcript, one turn per line, without speaker labels."""
    return "\n".join(str(t.get("content", "")) for t in turns if isinstance(t, dict))
