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
- the clitic ``n't`` is one token, whether written apart as tokenized corpora
  have it (``do n't``, ``ca n't``) or joined (``don't``, ``can't``, ``DON’T``):
  the word it is joined to ends before its ``n``. The other clitics (``'s``,
  ``'re``, ``'ve``, ``'ll``, ``'d``, ``'m``) need nothing: the apostrophe
  separates words, so ``it 's`` and ``it's`` are the same two tokens;
- at the start of a line, a timestamp (``[00:01:23]``, ``00:01:23,456 --> …``)
  and a speaker label are skipped, so a transcript pasted with its labels
  matches the same words registered without. A label is one to four
  capitalized words (at most 40 characters), perhaps a parenthesized part,
  then ``:`` and a blank or a line break: ``Grad C: ``, ``PHD D:`` on a line
  of its own, ``The Chair (Hon. Anthony Rota): ``. An upper-case label may be
  wrapped over lines (``[00:12:31] PROFESSOR`` / ``B: …``). A bracketed
  timestamp within a line is skipped too, with a label after it: turns run
  together into one paragraph (``… fine. [00:12:31] GRAD C: So …``).

The scan over the UTF-8 bytes is compiled (numba). ASCII words and single
characters of the unspaced scripts are hashed there; other words (rare in
most corpora) are normalized in Python and hashed with the same function.
A token's hash is defined over the UTF-8 bytes of its normalized form, eight
at a time: each little-endian 8-byte chunk (the last one padded with zeros)
is mixed into the state, the length last, then the SplitMix64 finalizer
(:func:`hash_utf8` is the definition). Chunks rather than bytes let the scan
take an ASCII word eight bytes at a time: which bytes are letters or digits
is found by arithmetic on the whole word, case is folded by one OR, and no
branch is taken per byte.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numba
import numpy as np

from .._native.compiled import load_u64, trailing_zeros

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


@cache
def char_classes() -> np.ndarray:
    """Class of every code point: separator, word character, or a token of its own.

    Computing the table takes a tenth of a second, which every scan and worker
    would pay; it is kept beside the compiled kernels, under a name that
    changes with this module's source and the Unicode version.
    """
    tag = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    cached = (
        Path(__file__).parent
        / "__pycache__"
        / (f"char-classes-{unicodedata.unidata_version}-{tag}.npy")
    )
    try:
        table: np.ndarray = np.load(cached)
        if table.shape == (0x110000,) and table.dtype == np.uint8:
            return table
    except (OSError, ValueError):
        pass
    table = _compute_char_classes()
    partial = cached.with_name(f".{cached.name}.{os.getpid()}")
    try:
        cached.parent.mkdir(exist_ok=True)
        with partial.open("wb") as f:
            np.save(f, table, allow_pickle=False)
        os.replace(partial, cached)
    except OSError:  # a read-only install computes the table each time
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return table


def _compute_char_classes() -> np.ndarray:
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    classes = np.zeros(0x110000, dtype=np.uint8)
    word = [m.start() for m in re.finditer(r"[^\W_]", every)]
    classes[word] = WORD
    # Combining marks live in planes 0-2 and 14 (variation selectors); the
    # other planes hold none, and asking about each of their code points
    # would double the start-up time of every worker.
    marks = [
        cp
        for cp in (*range(0x80, 0x30000), *range(0xE0000, 0xE1000))
        if classes[cp] == SEPARATOR and unicodedata.category(chr(cp))[0] == "M"
    ]
    classes[marks] = WORD
    for lo, hi in _UNSPACED_RANGES:
        classes[lo : hi + 1] = np.where(classes[lo : hi + 1] == WORD, UNSPACED, SEPARATOR)
    # A character that NFKC or case folding changes (compatibility ideographs,
    # Thai SARA AM, the kana digraphs) is still a token of its own, but is
    # hashed after normalization in Python rather than as it stands. Blocks of
    # 256 that neither changes are passed over whole.
    for lo, hi in _UNSPACED_RANGES:
        for start in range(lo, hi + 1, 256):
            cps = range(start, min(start + 256, hi + 1))
            block = "".join(map(chr, cps))
            if unicodedata.is_normalized("NFKC", block) and block.casefold() == block:
                continue
            for cp in cps:
                if classes[cp] == UNSPACED and _normalize_word(chr(cp)) != chr(cp):
                    classes[cp] = UNSPACED + 1
    return classes


_SEED = np.uint64(0x243F6A8885A308D3)
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it is a bijection
_HIGH = np.uint64(0x8080808080808080)
_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_CASE = np.uint64(0x2020202020202020)
_ONES = np.uint64(0x0101010101010101)


@numba.njit(cache=True, inline="always")
def _finish(h: np.uint64) -> np.uint64:
    """SplitMix64 finalizer: every input bit reaches every output bit."""
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@numba.njit(cache=True, inline="always")
def _mix(h: np.uint64, chunk: np.uint64) -> np.uint64:
    """One 8-byte chunk into the state (a bijection of the chunk for a given state)."""
    h = (h ^ chunk) * _MULTIPLIER
    return h ^ (h >> np.uint64(29))


@numba.njit(cache=True, inline="always")
def _token_hash(h: np.uint64, length: int) -> np.uint64:
    return _finish(h ^ np.uint64(length))


@numba.njit(cache=True)
def hash_utf8(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Token hash of each UTF-8 string ``data[offsets[i]:offsets[i+1]]``: the definition
    the compiled scan must agree with."""
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    for i in range(out.shape[0]):
        a, b = offsets[i], offsets[i + 1]
        h = _SEED
        for j in range(a, b, 8):
            chunk = np.uint64(0)
            for k in range(min(8, b - j)):
                chunk |= np.uint64(data[j + k]) << np.uint64(8 * k)
            h = _mix(h, chunk)
        out[i] = _token_hash(h, b - a)
    return out


def hash_utf8_reference(word: bytes) -> int:
    """What :func:`hash_utf8` computes for one string, with Python integers: from a
    seed, each 8-byte little-endian chunk (the last zero-padded) mixed in, then the
    length, then the SplitMix64 finalizer."""
    mask = (1 << 64) - 1
    h = int(_SEED)
    for at in range(0, len(word), 8):
        h = ((h ^ int.from_bytes(word[at : at + 8], "little")) * int(_MULTIPLIER)) & mask
        h ^= h >> 29
    h ^= len(word)
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


# The clitic n't, as one token (see _scan_into): the hash of its normalized form.
_NOT_HASH = hash_utf8(np.frombuffer(b"n't", dtype=np.uint8), np.array([0, 3], dtype=np.int64))[0]


@numba.njit(cache=True, inline="always")
def _word_bytes(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """The high bit of each byte of ``x`` that is an ASCII letter or digit.

    Range tests on all eight bytes at once: with the high bit of each byte
    set beforehand, subtracting ``lo`` from every byte never borrows across
    bytes and leaves the high bit set where the byte is at least ``lo``;
    adding ``0x7F - hi`` to the low seven bits never carries and sets it
    where the byte is above ``hi``. Letters are tested after OR 0x20 (which
    maps A-Z onto a-z and nothing else into that range); bytes beyond ASCII
    are never word bytes here.
    """
    low = x & _LOW7
    digit = ((low | _HIGH) - _ONES * np.uint64(0x30)) & ~(low + _ONES * np.uint64(0x7F - 0x39))
    folded = low | _CASE
    letter = ((folded | _HIGH) - _ONES * np.uint64(0x61)) & ~(
        folded + _ONES * np.uint64(0x7F - 0x7A)
    )
    return (digit | letter) & ~x & _HIGH


@numba.njit(cache=True, inline="always")
def _stops(x: np.uint64, word: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """Where a run of ASCII separators in ``x`` stops: word bytes, bytes beyond ASCII,
    newlines. Only the lowest bit is exact (the zero-byte test for newlines may
    also flag bytes above a real one), and only the lowest is used."""
    v = x ^ (_ONES * np.uint64(10))
    newline = (v - _ONES) & ~v & _HIGH
    return word | (x & _HIGH) | newline


@numba.njit(cache=True, inline="always")
def _is_blank(c: np.uint32) -> bool:
    return bool(c == 32 or c == 9)


@numba.njit(cache=True, inline="always")
def _is_digit(c: np.uint32) -> bool:
    return bool(48 <= c <= 57)


def _ascii_table() -> np.ndarray:
    """Per byte: 0 for an ASCII separator, the case-folded character for an ASCII
    letter or digit, ``_BEYOND_ASCII`` for every byte of a longer UTF-8 sequence."""
    table = np.full(256, 256, dtype=np.uint64)
    for c in range(128):
        table[c] = ord(chr(c).lower()) if chr(c).isalnum() else 0
    return table


_APOSTROPHE = np.zeros(256, dtype=np.bool_)
_APOSTROPHE[39] = _APOSTROPHE[0xE2] = True  # ' and the first byte of ’ (U+2019)

_BEYOND_ASCII = np.uint64(256)
_NO_BYTE = np.uint64(0)
_ASCII = _ascii_table()  # a global: numba freezes it into the compiled code


@numba.njit(cache=True, inline="always")
def _decode(buf: np.ndarray, i: int, n: int) -> tuple[Any, int]:  # pragma: no cover
    """The code point starting at byte i of UTF-8 ``buf``, and where the next one starts.

    The buffers come from Python's own encoder, so sequences are well formed;
    a truncated one at the very end is read as U+FFFD, a separator.
    """
    b0 = np.int64(buf[i])
    if b0 < 0x80:
        return b0, i + 1
    if b0 < 0xE0:
        if i + 1 >= n:
            return 0xFFFD, n
        return ((b0 & 0x1F) << 6) | (np.int64(buf[i + 1]) & 0x3F), i + 2
    if b0 < 0xF0:
        if i + 2 >= n:
            return 0xFFFD, n
        c = ((b0 & 0x0F) << 12) | ((np.int64(buf[i + 1]) & 0x3F) << 6)
        return c | (np.int64(buf[i + 2]) & 0x3F), i + 3
    if i + 3 >= n:
        return 0xFFFD, n
    c = ((b0 & 0x07) << 18) | ((np.int64(buf[i + 1]) & 0x3F) << 12)
    c |= (np.int64(buf[i + 2]) & 0x3F) << 6
    return c | (np.int64(buf[i + 3]) & 0x3F), i + 4


@numba.njit(cache=True, inline="always")
def _is_space(c: np.uint32) -> bool:
    return bool(c == 32 or c == 9 or c == 10 or c == 13)


@numba.njit(cache=True, inline="always")
def _timestamp_end(buf: np.ndarray, i: int, end: int, closed: bool) -> int:  # pragma: no cover
    """End of a timestamp at byte i and the blanks after it (i if there is none).

    ``[(]d{1,2}:dd(:dd)?([.,]d{1,3})?[)]]?``, and a subtitle cue's ``--> …`` up to
    the end of the line; ``closed``: only ``[…]`` with both brackets counts (a
    timestamp in the middle of a line).
    """
    j = i
    opened = j < end and (buf[j] == 91 or buf[j] == 40)
    if closed and not (opened and buf[j] == 91):
        return i
    if opened:
        j += 1
    d = 0
    while j < end and d < 2 and _is_digit(buf[j]):
        j += 1
        d += 1
    if not (d >= 1 and j + 2 < end and buf[j] == 58 and _is_digit(buf[j + 1])):
        return i
    if not _is_digit(buf[j + 2]):
        return i
    j += 3
    if j + 2 < end and buf[j] == 58 and _is_digit(buf[j + 1]) and _is_digit(buf[j + 2]):
        j += 3
    if j + 1 < end and (buf[j] == 46 or buf[j] == 44) and _is_digit(buf[j + 1]):
        j += 2
        k = 1
        while j < end and k < 3 and _is_digit(buf[j]):
            j += 1
            k += 1
    if j < end and (buf[j] == 93 or buf[j] == 41):
        j += 1
    elif closed:
        return i
    while j < end and _is_blank(buf[j]):
        j += 1
    if j + 2 < end and buf[j] == 45 and buf[j + 1] == 45 and buf[j + 2] == 62:
        while j < end and buf[j] != 10:
            j += 1
    return j


@numba.njit(cache=True, inline="always")
def _colon_at(buf: np.ndarray, j: int, end: int) -> bool:
    """A label's colon at byte j: followed by a blank, a line break or the end."""
    return bool(j < end and buf[j] == 58 and (j + 1 == end or _is_space(buf[j + 1])))


@numba.njit(cache=True)
def _group_end(buf: np.ndarray, j: int, end: int) -> int:  # pragma: no cover - compiled
    """Just past the ``)`` that closes the ``(`` at byte j, within 120 bytes and three
    line breaks (a label's parenthesis may be wrapped), or -1."""
    depth = 0
    breaks = 0
    stop = min(end, j + 120)
    while j < stop:
        c = buf[j]
        if c == 40:
            depth += 1
        elif c == 41:
            depth -= 1
            if depth == 0:
                return j + 1
        elif c == 10:
            breaks += 1
            if breaks > 3:
                return -1
        elif c == 58:
            return -1
        j += 1
    return -1


_WRAPPED_LINE = 12  # bytes at least before a line break inside a label


@numba.njit(cache=True, inline="always")
def _label_end(
    buf: np.ndarray, classes: np.ndarray, i: int, end: int, line: int
) -> int:  # pragma: no cover - compiled
    """End of a speaker label at byte i, on the line that starts at byte ``line``
    (i if there is none).

    One to four words, each starting with a capital A-Z or a digit and made of
    word characters, dots, apostrophes or hyphens, at most 40 characters, then
    perhaps one parenthesized part (``The Chair (Hon. Anthony Rota):``), then
    ``:`` and a blank, a line break or the end. A sentence that starts a line
    ("So the point is: …") has lower-case words. Between words: one space,
    or a line break where an upper-case label was wrapped — only after a line
    of some length, and only if no word has a lower-case letter, so that a
    short turn ("Okay.") above a label on a line of its own stays text. Every
    character a label starts with is ASCII, so bytes are compared directly;
    only the letters inside it may be other scripts.
    """
    if not (i < end and 65 <= buf[i] <= 90):
        return i
    j = i
    used = 0  # characters, not bytes
    words = 0
    lower = False  # a word has a lower-case letter
    wrapped = False  # the label runs over a line break
    while j < end and used < 41:
        c = buf[j]
        if c == 40 and words > 0:
            k = _group_end(buf, j, end)
            return k + 1 if k > 0 and _colon_at(buf, k, end) else i
        if words == 4 or not (65 <= c <= 90 or _is_digit(c)):
            break
        words += 1
        j += 1
        used += 1
        while j < end and used < 41:
            c = buf[j]
            if c >= 0x80:
                cp, nxt = _decode(buf, j, end)
                if classes[cp] == 0:
                    break
                j = nxt
            elif classes[c] != 0 or c == 95 or c == 46 or c == 39 or c == 45:
                lower |= 97 <= c <= 122
                j += 1
            else:
                break
            used += 1
        if wrapped and lower:
            break
        if _colon_at(buf, j, end):
            return j + 1
        if j < end and buf[j] == 32:
            j += 1
        elif j < end and (buf[j] == 10 or buf[j] == 13) and not lower and j - line >= _WRAPPED_LINE:
            j += 2 if j + 1 < end and buf[j] == 13 and buf[j + 1] == 10 else 1
            line = j
            wrapped = True
        else:
            break
        used += 1
    return i


@numba.njit(cache=True)
def _prefix_end(buf: np.ndarray, classes: np.ndarray, i: int, end: int) -> int:  # pragma: no cover
    """End of the timestamp and speaker label at the line starting at byte i (i if none),
    looking no further than byte ``end`` (the end of the document)."""
    line = i
    while i < end and _is_blank(buf[i]):
        i += 1
    return _label_end(buf, classes, _timestamp_end(buf, i, end, False), end, line)


@numba.njit(cache=True)
def _stamp_end(buf: np.ndarray, classes: np.ndarray, i: int, end: int, line: int) -> int:
    """End of a bracketed timestamp at byte i within the line that starts at byte
    ``line``, and of a speaker label after it (i if there is no timestamp).
    Apart from the scan, like :func:`_prefix_end`: its loop stays small."""  # pragma: no cover
    stamp_end = _timestamp_end(buf, i, end, True)
    return i if stamp_end == i else _label_end(buf, classes, stamp_end, end, line)


@numba.njit(cache=True)
def _not_end(buf: np.ndarray, classes: np.ndarray, i: int) -> int:  # pragma: no cover
    """Just past ``'t`` (or ``’t``) at byte i when no word character follows, else i:
    with the ``n`` before it, the clitic ``n't``."""
    n = buf.shape[0]
    j = i
    if j < n and buf[j] == 39:
        j += 1
    elif j + 2 < n and buf[j] == 0xE2 and buf[j + 1] == 0x80 and buf[j + 2] == 0x99:
        j += 3
    else:
        return i
    if j >= n or (buf[j] | 32) != 116:
        return i
    j += 1
    if j < n:
        if buf[j] < 0x80:
            if _ASCII[buf[j]] != 0:
                return i
        else:
            cp, _ = _decode(buf, j, n)
            if classes[cp] != 0:
                return i
    return j


@numba.njit(cache=True)
def _ascii_state(buf: np.ndarray, a: int, b: int) -> np.uint64:  # pragma: no cover
    """The hash state (before the length) of the ASCII word ``buf[a:b]``."""
    h = _SEED
    chunk = np.uint64(0)
    held = 0
    for j in range(a, b):
        chunk |= _ASCII[buf[j]] << np.uint64(8 * held)
        held += 1
        if held == 8:
            h = _mix(h, chunk)
            chunk = np.uint64(0)
            held = 0
    if held:
        h = _mix(h, chunk)
    return h


@numba.njit(cache=True)
def _scan_into(
    buf: np.ndarray,
    classes: np.ndarray,
    strip_labels: bool,
    doc_starts: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    hashes: np.ndarray,
    pending: np.ndarray,
    docs: np.ndarray,
) -> int:  # pragma: no cover - compiled
    """Tokenize UTF-8 ``buf`` into the caller's buffers; returns the number of tokens.

    Offsets are in bytes. ``doc_starts`` holds the byte where each document
    of a batch begins (``[0]`` for one text); ``docs`` receives each token's
    document. The buffers are the caller's so that a batch scanner reuses
    them from batch to batch.
    """
    n = buf.shape[0]
    count = 0
    doc = 0
    next_doc = doc_starts[1] if doc_starts.shape[0] > 1 else n + 1
    # A timestamp or label never reaches into the next document of a batch.
    doc_end = min(next_doc - 1, n)
    skip_end = _prefix_end(buf, classes, 0, doc_end) if strip_labels else 0
    # A line's timestamp and label are looked for when its first token comes, and
    # only if that token starts with a digit or a capital (neither can start
    # otherwise): no work at all for most lines.
    line_begin = 0
    line_open = False  # a line has begun and its first token has not come yet
    i = 0
    while i < n:
        token = False
        if i + 8 <= n:
            # Eight bytes at a time: past ASCII separators to what stops them.
            x = load_u64(buf, i)
            word = _word_bytes(x)
            stops = _stops(x, word)
            if stops == 0:
                i += 8
                continue
            skip = trailing_zeros(stops) >> 3
            i += skip
            if (word >> np.uint64(8 * skip)) & np.uint64(0x80):
                start = i
                i, h = _ascii_word(buf, i)
                needs_python = False
                if i < n and buf[i] >= 0x80:
                    i, needs_python = _rest_of_word(buf, classes, i)
                token = True
            elif buf[i] == 10:
                line_begin = i + 1
                line_open = strip_labels
                i += 1
                continue
            # Otherwise a byte beyond ASCII: one character at a time, below.
        if not token:
            k = _ASCII[buf[i]]
            if k == 0:  # an ASCII separator (in the last eight bytes)
                if buf[i] == 10:
                    line_begin = i + 1
                    line_open = strip_labels
                i += 1
                continue
            start = i
            i, h, needs_python, token = _character_token(buf, classes, i, k)
            if not token:
                continue
        value = _token_hash(h, i - start)
        if i < n and _APOSTROPHE[buf[i]] and (buf[i - 1] | 32) == 110:
            # "n't" is one token whether written apart ("do n't", as tokenized
            # corpora have it) or joined ("don't"): the word before it ends
            # before its n, and the clitic starts there.
            after = _not_end(buf, classes, i)
            if after > i:
                if i - start == 1:
                    i = after
                    value = _NOT_HASH
                else:
                    i -= 1  # the next token starts at the n
                    if not needs_python:
                        value = _token_hash(_ascii_state(buf, start, i), i - start)
        while start >= next_doc:
            doc += 1
            next_doc = doc_starts[doc + 1] if doc + 1 < doc_starts.shape[0] else n + 1
            doc_end = min(next_doc - 1, n)
        if line_open:  # (only ever set when labels are stripped)
            line_open = False
            if buf[start] < 91 and start >= skip_end:  # a digit or a capital
                skip_end = _prefix_end(buf, classes, line_begin, doc_end)
        if (
            buf[start] < 58
            and strip_labels
            and start > 0
            and start >= skip_end
            and buf[start - 1] == 91
        ):
            # A bracketed timestamp within a line: skipped, and a label after it.
            skip_end = _stamp_end(buf, classes, start - 1, doc_end, line_begin)
        if start < skip_end:
            continue
        starts[count] = start
        ends[count] = i
        hashes[count] = value
        pending[count] = needs_python
        docs[count] = doc
        count += 1
    return count


@numba.njit(cache=True, inline="always")
def _character_token(
    buf: np.ndarray, classes: np.ndarray, i: int, k: Any
) -> tuple[int, np.uint64, bool, bool]:  # pragma: no cover - compiled
    """The token starting with the character at byte i (``k``: its entry in the ASCII
    table), one character at a time: (where it ends, its hash state before the
    length, whether Python must normalize it, whether it is a token at all — a
    separator beyond ASCII is not)."""
    n = buf.shape[0]
    h = _SEED
    chunk = np.uint64(0)
    held = 0  # bytes in chunk
    needs_python = False
    if k == _BEYOND_ASCII:
        c, nxt = _decode(buf, i, n)
        cls = classes[c]
        if cls == 0:
            return nxt, h, False, False
        if cls >= 2:
            # One character of an unspaced script is a token: its UTF-8 bytes as they are.
            needs_python = cls == 3
            while i < nxt:
                chunk |= np.uint64(buf[i]) << np.uint64(8 * held)
                held += 1
                i += 1
            k = _NO_BYTE  # the token is complete
        else:
            needs_python = True  # NFKC and case folding beyond ASCII
            i = nxt
            k = _ASCII[buf[i]] if i < n else _NO_BYTE
    # The rest of a word: ASCII letters and digits (case-folded by the table), or
    # word characters beyond ASCII, normalized in Python later.
    while k != 0:
        if k == _BEYOND_ASCII:
            c, nxt = _decode(buf, i, n)
            if classes[c] != 1:
                break
            needs_python = True
            i = nxt
        else:
            chunk |= k << np.uint64(8 * held)
            held += 1
            if held == 8:
                h = _mix(h, chunk)
                chunk = np.uint64(0)
                held = 0
            i += 1
        k = _ASCII[buf[i]] if i < n else _NO_BYTE
    if held:
        h = _mix(h, chunk)
    return i, h, needs_python, True


@numba.njit(cache=True, inline="always")
def _ascii_word(buf: np.ndarray, i: int) -> tuple[int, np.uint64]:  # pragma: no cover
    """The ASCII letters and digits from byte i on, hashed eight at a time (the state
    before the length is mixed in), and where they end. Needs i + 8 <= len(buf)."""
    n = buf.shape[0]
    h = _SEED
    while i + 8 <= n:
        x = load_u64(buf, i)
        run = trailing_zeros(~_word_bytes(x) & _HIGH) >> 3  # word bytes in front (8: all)
        if run == 8:
            h = _mix(h, x | _CASE)
            i += 8
            continue
        if run:
            h = _mix(h, (x | _CASE) & ((np.uint64(1) << np.uint64(8 * run)) - np.uint64(1)))
            i += run
        return i, h
    # The buffer's last bytes, one at a time.
    chunk = np.uint64(0)
    held = 0
    while i < n and _ASCII[buf[i]] != 0 and _ASCII[buf[i]] != _BEYOND_ASCII:
        chunk |= _ASCII[buf[i]] << np.uint64(8 * held)
        held += 1
        i += 1
        if held == 8:
            h = _mix(h, chunk)
            chunk = np.uint64(0)
            held = 0
    if held:
        h = _mix(h, chunk)
    return i, h


@numba.njit(cache=True, inline="always")
def _rest_of_word(buf: np.ndarray, classes: np.ndarray, i: int) -> tuple[int, bool]:
    """Where a word that reached a byte beyond ASCII ends, and whether it went on
    there (then Python normalizes and hashes it)."""  # pragma: no cover - compiled
    n = buf.shape[0]
    beyond = False
    while i < n:
        k = _ASCII[buf[i]]
        if k == _BEYOND_ASCII:
            c, nxt = _decode(buf, i, n)
            if classes[c] != 1:
                break
            beyond = True
            i = nxt
        elif k != 0:
            i += 1
        else:
            break
    return i, beyond


def _normalize_word(word: str) -> str:
    # The only token with an apostrophe is the clitic n't, typeset or not.
    return unicodedata.normalize("NFKC", word).casefold().replace("\u2019", "'")


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


@lru_cache(maxsize=1 << 16)
def _normalized_utf8(word: bytes) -> bytes:
    """A word's UTF-8 normalized (remembered: the same words come back all through a
    corpus, and NFKC in Python costs microseconds)."""
    return _normalize_word(word.decode("utf-8", "surrogatepass")).encode("utf-8", "surrogatepass")


def _resolve_pending(
    buf: bytes | np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    hashes: np.ndarray,
    pending: np.ndarray,
) -> None:
    """Hash, in place, the tokens the compiled scan left to Python (NFKC, case folding)."""
    if not pending.any():
        return
    idx = np.flatnonzero(pending)
    view = memoryview(buf if isinstance(buf, bytes) else buf.data)
    words = [
        _normalized_utf8(bytes(view[s:e]))
        for s, e in zip(starts[idx].tolist(), ends[idx].tolist(), strict=True)
    ]
    offsets = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=offsets[1:])
    hashes[idx] = hash_utf8(np.frombuffer(b"".join(words) or b"\0", dtype=np.uint8), offsets)


def utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate (valid in a Python str) is still one character.
    return text.encode("utf-8", "surrogatepass")


_ONE_DOC = np.zeros(1, dtype=np.int64)


def most_tokens(n_bytes: int) -> int:
    """How many tokens ``n_bytes`` of UTF-8 can hold at most: two words need a byte
    between them, and a token that needs none (a character of an unspaced script)
    is three bytes long, so no token takes less than two bytes of its own, but the
    last."""
    return n_bytes // 2 + 1


def tokenize(text: str, *, strip_labels: bool = True) -> Tokens:
    """Tokens of ``text``, normalized and hashed, with offsets into ``text`` itself."""
    data = utf8(text)
    buf = np.frombuffer(data, dtype=np.uint8)
    n = most_tokens(buf.shape[0])
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)
    pending = np.empty(n, dtype=np.bool_)
    docs = np.empty(n, dtype=np.int32)
    count = _scan_into(
        buf, char_classes(), strip_labels, _ONE_DOC, starts, ends, hashes, pending, docs
    )
    starts, ends, hashes = starts[:count].copy(), ends[:count].copy(), hashes[:count].copy()
    _resolve_pending(data, starts, ends, hashes, pending[:count])
    if not text.isascii():
        # Byte offsets to character offsets: the character a byte belongs to is the
        # number of lead (non-continuation) bytes up to and including it, minus one.
        char_of = np.cumsum((buf & 0xC0) != 0x80) - 1
        starts = char_of[starts]
        ends = char_of[ends - 1] + 1
    return Tokens(starts, ends, hashes, text)


class BatchTokenizer:
    """Tokenizes batches of documents into buffers kept from one batch to the next.

    Returns only what a scan of the whole batch needs — each token's hash and
    document — as views of the buffers, valid until the next call. Fresh
    arrays of this size on every batch would page-fault all the way.
    """

    def __init__(self) -> None:
        self._size = self._count = 0
        self._alloc(1 << 16)

    def _alloc(self, size: int) -> None:
        self._size = size
        self._starts = np.empty(size, dtype=np.int64)
        self._ends = np.empty(size, dtype=np.int64)
        self._hashes = np.empty(size, dtype=np.uint64)
        self._pending = np.empty(size, dtype=np.bool_)
        self._docs = np.empty(size, dtype=np.int32)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(token hashes, token documents) of the documents, each starting a line."""
        return self.joined(*join_utf8(texts))

    def joined(self, data: np.ndarray, doc_starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`__call__` for documents already encoded: UTF-8 ``data``, the documents
        joined by newlines, document k starting at byte ``doc_starts[k]``."""
        need = most_tokens(data.shape[0])
        if need > self._size:
            # A little room to grow, not twice: these buffers are tens of megabytes,
            # and every fresh page costs (a pool worker starts with none).
            self._alloc(max(need, self._size + self._size // 4))
        count = _scan_into(
            data, char_classes(), True, doc_starts,
            self._starts, self._ends, self._hashes, self._pending, self._docs,
        )  # fmt: skip
        hashes = self._hashes[:count]
        pending = self._pending[:count]
        _resolve_pending(data, self._starts[:count], self._ends[:count], hashes, pending)
        self._count = count
        return hashes, self._docs[:count]

    def byte_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) in bytes of each token of the last batch (views, like its hashes)."""
        return self._starts[: self._count], self._ends[: self._count]


def join_utf8(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The texts as UTF-8 joined by newlines, and the byte where each one starts."""
    parts = [utf8(t) for t in texts]
    starts = np.zeros(len(parts), dtype=np.int64)
    if len(parts) > 1:
        np.cumsum([len(p) + 1 for p in parts[:-1]], out=starts[1:])
    return np.frombuffer(b"\n".join(parts), dtype=np.uint8), starts


def word_hash(word: str) -> int:
    """The hash :func:`tokenize` gives a token whose normalized form is ``word``."""
    data = _normalize_word(word).encode("utf-8")
    out = hash_utf8(np.frombuffer(data or b"\0", dtype=np.uint8), np.array([0, len(data)]))
    return int(out[0])


def tokenize_reference(text: str) -> list[tuple[int, int, int]]:
    """What :func:`tokenize` computes without stripping labels (``_scan_into`` and its
    helpers), one character at a time: (start, end, hash) of each token, in
    characters. A token is a maximal run of word characters, or one character of an
    unspaced script; the clitic ``n't`` (or ``n’t``, not followed by a word
    character) is a token of its own, taking the ``n`` from the word before it.
    Each token hashes as :func:`word_hash` of its text."""
    classes = char_classes()
    n = len(text)
    spans = []
    i = 0
    while i < n:
        kind = classes[ord(text[i])]
        if kind == SEPARATOR:
            i += 1
            continue
        if kind >= UNSPACED:
            spans.append((i, i + 1))
            i += 1
            continue
        j = i
        while j < n and classes[ord(text[j])] == WORD:
            j += 1
        clitic = (
            j + 1 < n
            and text[j - 1] in "nN"
            and text[j] in "'\u2019"
            and text[j + 1] in "tT"
            and (j + 2 == n or classes[ord(text[j + 2])] == SEPARATOR)
        )
        if clitic and j - i == 1:  # the n alone: n't
            spans.append((i, j + 2))
            i = j + 2
        elif clitic:  # the word ends before its n, which starts n't
            spans.append((i, j - 1))
            i = j - 1
        else:
            spans.append((i, j))
            i = j
    return [(a, b, word_hash(text[a:b])) for a, b in spans]


def transcript_text(turns: list[dict[str, object]]) -> str:
    """The words of a transcript, one turn per line, without speaker labels."""
    return "\n".join(str(t.get("content", "")) for t in turns if isinstance(t, dict))
