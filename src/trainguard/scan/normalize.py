"""The one normalization applied to registered content and to every scanned corpus.

Text becomes a sequence of tokens with character offsets into the original,
and a 64-bit hash per token:

- a word is a run of letters, digits and combining marks (Unicode-aware);
  each is normalized with NFKC and case-folded, so case, punctuation,
  whitespace, line wrapping and compatibility forms (full-width letters,
  ligatures) do not matter;
- scripts written without spaces between words (Han, Kana, Hangul syllables,
  Thai, Lao, Khmer, Myanmar) give one token per character, so such text is
  fingerprinted rather than seen as one giant "word" and silently missed;
- at the start of a line, a timestamp (``[00:01:23]``, ``00:01:23,456 --> …``)
  and a speaker label (one to four capitalized words, at most 40 characters,
  then ``:`` and a blank: ``Grad C: ``, ``Dr. Jane Doe: ``) are skipped, so a
  transcript pasted with its labels matches the same words registered without.

The scan over code points is compiled (numba). ASCII words and single
characters of the unspaced scripts are hashed there; other words (rare in
most corpora) are normalized in Python and hashed with the same function.
A token's hash is FNV-1a over the UTF-8 bytes of its normalized form, passed
through the SplitMix64 finalizer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

import numba
import numpy as np

SEPARATOR, WORD, UNSPACED = 0, 1, 2
_UNSPACED_RANGES = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FA1F),  # CJK extensions B–F, compatibility supplement
)
# Characters whose NFKC form differs from themselves cannot be hashed as they are.
_NFKC_CHANGES = ((0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


@cache
def char_classes() -> np.ndarray:
    """Class of every code point: separator, word character, or a token of its own."""
    every = "".join(map(chr, range(0x110000)))
    classes = np.zeros(0x110000, dtype=np.uint8)
    word = [m.start() for m in re.finditer(r"[^\W_]", every)]
    classes[word] = WORD
    marks = [
        cp
        for cp in range(0x80, 0x110000)
        if classes[cp] == SEPARATOR and unicodedata.category(chr(cp))[0] == "M"
    ]
    classes[marks] = WORD
    for lo, hi in _UNSPACED_RANGES:
        classes[lo : hi + 1] = np.where(classes[lo : hi + 1] == WORD, UNSPACED, SEPARATOR)
    for lo, hi in _NFKC_CHANGES:
        # Still one token per character, but hashed after NFKC in Python.
        classes[lo : hi + 1] = np.where(
            classes[lo : hi + 1] == UNSPACED, UNSPACED + 1, classes[lo : hi + 1]
        )
    return classes


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@numba.njit(cache=True, inline="always")
def _finish(h: np.uint64) -> np.uint64:
    """SplitMix64 finalizer: spreads FNV's weak low bits over the whole word."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@numba.njit(cache=True, inline="always")
def _fnv_byte(h: np.uint64, b: np.uint64) -> np.uint64:
    return (h ^ b) * _FNV_PRIME


@numba.njit(cache=True)
def hash_utf8(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Token hash of each UTF-8 string ``data[offsets[i]:offsets[i+1]]``."""
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    for i in range(out.shape[0]):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = _fnv_byte(h, np.uint64(data[j]))
        out[i] = _finish(h)
    return out


@numba.njit(cache=True, inline="always")
def _is_blank(c: np.uint32) -> bool:
    return bool(c == 32 or c == 9)


@numba.njit(cache=True, inline="always")
def _is_digit(c: np.uint32) -> bool:
    return bool(48 <= c <= 57)


@numba.njit(cache=True)
def _prefix_end(cps: np.ndarray, classes: np.ndarray, i: int) -> int:  # pragma: no cover
    """End of the timestamp and speaker label at the line starting at i (i if none)."""
    n = cps.shape[0]
    while i < n and _is_blank(cps[i]):
        i += 1
    # Timestamp: [(]d{1,2}:dd(:dd)?([.,]d{1,3})?[)]]? blanks (--> rest of line)?
    j = i
    if j < n and (cps[j] == 91 or cps[j] == 40):
        j += 1
    d = 0
    while j < n and d < 2 and _is_digit(cps[j]):
        j += 1
        d += 1
    stamped = False
    if d >= 1 and j + 2 < n and cps[j] == 58 and _is_digit(cps[j + 1]) and _is_digit(cps[j + 2]):
        j += 3
        stamped = True
        if j + 2 < n and cps[j] == 58 and _is_digit(cps[j + 1]) and _is_digit(cps[j + 2]):
            j += 3
        if j + 1 < n and (cps[j] == 46 or cps[j] == 44) and _is_digit(cps[j + 1]):
            j += 2
            k = 1
            while j < n and k < 3 and _is_digit(cps[j]):
                j += 1
                k += 1
        if j < n and (cps[j] == 93 or cps[j] == 41):
            j += 1
        while j < n and _is_blank(cps[j]):
            j += 1
        if j + 2 < n and cps[j] == 45 and cps[j + 1] == 45 and cps[j + 2] == 62:
            while j < n and cps[j] != 10:
                j += 1
    if stamped:
        i = j
    # Speaker label: 1 to 4 words, each starting with a capital A-Z or a digit and
    # made of word characters, dots, apostrophes or hyphens, single spaces between,
    # at most 40 characters, then ':' and a blank ("Grad C: ", "Dr. Jane Doe: ").
    # A sentence that starts a line ("So the point is: …") has lower-case words.
    if i < n and 65 <= cps[i] <= 90:
        j = i
        words = 0
        while j < n and j < i + 41 and words < 4:
            c = cps[j]
            if not (65 <= c <= 90 or _is_digit(c)):
                break
            words += 1
            j += 1
            while j < n and j < i + 41:
                c = cps[j]
                if (
                    (c < classes.shape[0] and classes[c] != 0)
                    or c == 95
                    or c == 46
                    or c == 39
                    or c == 45
                ):
                    j += 1
                else:
                    break
            if j + 1 < n and cps[j] == 58 and _is_blank(cps[j + 1]):
                return j + 2
            if j < n and cps[j] == 32:
                j += 1
                continue
            break
    return i


@numba.njit(cache=True)
def _scan(
    cps: np.ndarray, classes: np.ndarray, strip_labels: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Token starts, ends, hashes, and which tokens still need Python normalization."""
    n = cps.shape[0]
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)
    pending = np.zeros(n, dtype=np.bool_)
    count = 0
    skip_end = _prefix_end(cps, classes, 0) if strip_labels else 0
    i = 0
    while i < n:
        c = cps[i]
        cls = classes[c]
        if cls == 0:
            if c == 10 and strip_labels:
                skip_end = _prefix_end(cps, classes, i + 1)
            i += 1
            continue
        start = i
        h = _FNV_OFFSET
        needs_python = False
        if cls >= 2:
            i += 1
            if cls == 3:
                needs_python = True
            else:  # one character of an unspaced script: its UTF-8 bytes, in place
                if c < 0x800:
                    h = _fnv_byte(h, np.uint64(0xC0 | (c >> 6)))
                    h = _fnv_byte(h, np.uint64(0x80 | (c & 0x3F)))
                elif c < 0x10000:
                    h = _fnv_byte(h, np.uint64(0xE0 | (c >> 12)))
                    h = _fnv_byte(h, np.uint64(0x80 | ((c >> 6) & 0x3F)))
                    h = _fnv_byte(h, np.uint64(0x80 | (c & 0x3F)))
                else:
                    h = _fnv_byte(h, np.uint64(0xF0 | (c >> 18)))
                    h = _fnv_byte(h, np.uint64(0x80 | ((c >> 12) & 0x3F)))
                    h = _fnv_byte(h, np.uint64(0x80 | ((c >> 6) & 0x3F)))
                    h = _fnv_byte(h, np.uint64(0x80 | (c & 0x3F)))
        else:
            while i < n and classes[cps[i]] == 1:
                c = cps[i]
                if c < 128:
                    if 65 <= c <= 90:
                        c += 32
                    h = _fnv_byte(h, np.uint64(c))
                else:
                    needs_python = True
                i += 1
        if start < skip_end:
            continue
        starts[count] = start
        ends[count] = i
        hashes[count] = _finish(h)
        pending[count] = needs_python
        count += 1
    return starts[:count], ends[:count], hashes[:count], pending[:count]


def _normalize_word(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


@dataclass(frozen=True)
class Tokens:
    """Tokens of a text: where each one sits in the original, and its hash."""

    starts: np.ndarray  # int64 character offsets
    ends: np.ndarray
    hashes: np.ndarray  # uint64
    text: str

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def words(self) -> list[str]:
        """The normalized words (for people and tests; the scanner uses hashes)."""
        return [
            _normalize_word(self.text[s:e])
            for s, e in zip(self.starts.tolist(), self.ends.tolist(), strict=True)
        ]


def _code_points(text: str) -> np.ndarray:
    # One array element per Python string index, so offsets carry over: bytes
    # for ASCII text (a quarter of the memory traffic), UTF-32 otherwise.
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def tokenize(text: str, *, strip_labels: bool = True) -> Tokens:
    """Tokens of ``text``, normalized and hashed, with offsets into ``text`` itself."""
    starts, ends, hashes, pending = _scan(_code_points(text), char_classes(), strip_labels)
    if pending.any():
        idx = np.flatnonzero(pending)
        words = [
            _normalize_word(text[s:e]).encode("utf-8", "surrogatepass")
            for s, e in zip(starts[idx].tolist(), ends[idx].tolist(), strict=True)
        ]
        offsets = np.zeros(len(words) + 1, dtype=np.int64)
        np.cumsum([len(w) for w in words], out=offsets[1:])
        hashes[idx] = hash_utf8(np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8), offsets)
    return Tokens(starts, ends, hashes, text)


def word_hash(word: str) -> int:
    """The hash :func:`tokenize` gives a token whose normalized form is ``word``."""
    data = _normalize_word(word).encode("utf-8")
    out = hash_utf8(np.frombuffer(data or b"\0", dtype=np.uint8), np.array([0, len(data)]))
    return int(out[0])


def transcript_text(turns: list[dict[str, object]]) -> str:
    """The words of a transcript, one turn per line, without speaker labels."""
    return "\n".join(str(t.get("content", "")) for t in turns if isinstance(t, dict))
