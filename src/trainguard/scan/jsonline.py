"""Find the text of JSON lines without building Python objects (compiled).

A scan used to spend most of its reading time turning every JSONL line
into a dict and its text into a ``str``, only to encode the ``str`` back to
UTF-8 for the tokenizer — and 98% of documents hold nothing registered.
Here one compiled pass over a block of lines checks that each line is a
JSON object, finds the string value of its text field, and writes that
value, unescaped, straight into the byte buffer the tokenizer reads.

The pass takes only the lines it is sure of: valid JSON (RFC 8259, valid
UTF-8, nothing a strict parser would refuse) whose text field holds a
string. Every other line — malformed, blank, transcript turns, an escaped
key, a repeated text field, a lone surrogate escape, a number a strict
parser might refuse — is *slow*: the caller parses it with orjson, as
before, and reports it if it is malformed. So no line is taken here that
orjson would refuse, and the bytes written are exactly
``orjson.loads(line)[field].encode()``: the tests hold both.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from .._native.compiled import copy_bytes, load_u64, store_u64

_MAX_DEPTH = 64  # deeper nesting is left to orjson
_STRING, _LIST, _OTHER = 1, 2, 3


@numba.njit(cache=True, inline="always")
def _ws(buf: Any, i: int, end: int) -> int:  # pragma: no cover - compiled
    """Past JSON whitespace but a newline: nothing is read past the end of a line."""
    while i < end and (buf[i] == 32 or buf[i] == 9 or buf[i] == 13):
        i += 1
    return i


def _utf8_leads() -> np.ndarray:
    """Per lead byte: how many continuation bytes follow (0: not a lead byte), and the
    range the first of them must fall in (RFC 3629 table 3-7: no overlong forms, no
    surrogates, nothing above U+10FFFF)."""
    table = np.zeros((256, 3), dtype=np.int64)
    table[0xC2:0xE0] = (1, 0x80, 0xBF)
    table[0xE0:0xF0] = (2, 0x80, 0xBF)
    table[0xE0] = (2, 0xA0, 0xBF)
    table[0xED] = (2, 0x80, 0x9F)
    table[0xF0:0xF5] = (3, 0x80, 0xBF)
    table[0xF0] = (3, 0x90, 0xBF)
    table[0xF4] = (3, 0x80, 0x8F)
    return table


_UTF8_LEADS = _utf8_leads()  # a global: numba freezes it into the compiled code


@numba.njit(cache=True, inline="always")
def _utf8_length(buf: Any, i: int, end: int) -> int:  # pragma: no cover - compiled
    """Bytes of the well-formed UTF-8 sequence at i (lead byte >= 0x80); 0 if it is not
    one: no overlong forms, no surrogates, nothing above U+10FFFF, nothing cut short."""
    # int(): a uint8 would make ``i + need`` uint8 arithmetic when run as plain Python.
    need, lo, hi = int(_UTF8_LEADS[buf[i], 0]), _UTF8_LEADS[buf[i], 1], _UTF8_LEADS[buf[i], 2]
    if need == 0 or i + need >= end:
        return 0
    if buf[i + 1] < lo or buf[i + 1] > hi:
        return 0
    for k in range(2, need + 1):
        if buf[i + k] & 0xC0 != 0x80:
            return 0
    return int(need) + 1


@numba.njit(cache=True, inline="always")
def _hex4(buf: Any, i: int, end: int) -> int:  # pragma: no cover - compiled
    if i + 4 > end:
        return -1
    v = 0
    for k in range(4):
        c = int(buf[i + k])  # not uint8: ``v`` would stay uint8 as plain Python
        if 48 <= c <= 57:
            d = c - 48
        elif 97 <= c <= 102:
            d = c - 87
        elif 65 <= c <= 70:
            d = c - 55
        else:
            return -1
        v = (v << 4) | d
    return v


def _plain_table() -> np.ndarray:
    """1 for the bytes a JSON string holds as they are: printable ASCII but ``"`` and ``\\``."""
    table = np.zeros(256, dtype=np.uint8)
    table[0x20:0x80] = 1
    table[ord('"')] = table[ord("\\")] = 0
    return table


_PLAIN = _plain_table()  # a global: numba freezes it into the compiled code


def _escape_table() -> np.ndarray:
    """The byte each one-character escape stands for (0: not an escape JSON has)."""
    table = np.zeros(256, dtype=np.uint8)
    for escape, byte in zip(b'ntrbf"\\/', b'\n\t\r\b\f"\\/', strict=True):
        table[escape] = byte
    return table


_ESCAPED = _escape_table()


@numba.njit(cache=True, inline="always")
def _put_code_point(out: Any, o: int, cp: int) -> int:  # pragma: no cover - compiled
    """Write code point ``cp`` as UTF-8 at ``out[o]``; returns where the next byte goes."""
    if cp < 0x80:
        out[o] = cp
        return o + 1
    if cp < 0x800:
        out[o] = 0xC0 | (cp >> 6)
        out[o + 1] = 0x80 | (cp & 0x3F)
        return o + 2
    if cp < 0x10000:
        out[o] = 0xE0 | (cp >> 12)
        out[o + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[o + 2] = 0x80 | (cp & 0x3F)
        return o + 3
    out[o] = 0xF0 | (cp >> 18)
    out[o + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[o + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[o + 3] = 0x80 | (cp & 0x3F)
    return o + 4


_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)


@numba.njit(cache=True, inline="always")
def _below(word: Any, n: int) -> Any:  # pragma: no cover - compiled
    """Nonzero when some byte of ``word`` (all below 0x80) is below ``n``."""
    return (word - _ONES * np.uint64(n)) & ~word & _HIGH


@numba.njit(cache=True, inline="always")
def _special(word: Any) -> bool:  # pragma: no cover - compiled
    """Whether any of eight bytes is not plain: a quote, a backslash, a control
    character or a byte of a longer UTF-8 sequence (bit tricks: no branch per byte)."""
    if word & _HIGH:
        return True
    quote = _below(word ^ (_ONES * np.uint64(0x22)), 1)
    backslash = _below(word ^ (_ONES * np.uint64(0x5C)), 1)
    return bool(_below(word, 0x20) | quote | backslash)


@numba.njit(cache=True)
def _string(
    buf: Any, i: int, end: int, out: Any, o: int, write: bool
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The string whose opening quote is just before byte i: (the byte after its closing
    quote, or -1 if it is not a string we are sure of; ``o`` plus its UTF-8 length
    unescaped). With ``write``, the unescaped bytes go to ``out[o:]``."""
    while True:
        # Eight plain bytes at a time, then byte by byte up to the next special one.
        while i + 8 <= end:
            word = load_u64(buf, i)
            if _special(word):
                break
            if write:
                store_u64(out, o, word)
            o += 8
            i += 8
        if write:
            while i < end and _PLAIN[buf[i]]:
                out[o] = buf[i]
                o += 1
                i += 1
        else:
            run = i
            while i < end and _PLAIN[buf[i]]:
                i += 1
            o += i - run
        if i >= end:
            return -1, o
        c = buf[i]
        if c == 34:  # "
            return i + 1, o
        if c == 92:  # backslash
            if i + 1 >= end:
                return -1, o
            e = buf[i + 1]
            if e == 117:  # \u and four hex digits
                cp = _hex4(buf, i + 2, end)
                i += 6
                if cp < 0 or 0xDC00 <= cp <= 0xDFFF:
                    return -1, o
                if 0xD800 <= cp <= 0xDBFF:
                    # A pair of surrogate escapes is one character; orjson judges the rest.
                    if i + 1 >= end or buf[i] != 92 or buf[i + 1] != 117:
                        return -1, o
                    low = _hex4(buf, i + 2, end)
                    if not 0xDC00 <= low <= 0xDFFF:
                        return -1, o
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                if write:
                    o = _put_code_point(out, o, cp)
                else:
                    o += 1 if cp < 0x80 else (2 if cp < 0x800 else (3 if cp < 0x10000 else 4))
                continue
            byte = _ESCAPED[e]  # one lookup, not a chain of tests per escape
            if byte == 0:
                return -1, o
            if write:
                out[o] = byte
            o += 1
            i += 2
            continue
        if c < 0x20:  # control characters must be escaped
            return -1, o
        k = _utf8_length(buf, i, end)
        if k == 0:
            return -1, o
        if write:
            copy_bytes(out, o, buf, i, k)
        o += k
        i += k


@numba.njit(cache=True)
def _number(buf: Any, i: int, end: int) -> int:  # pragma: no cover - compiled
    """The byte after the number at i, or -1. Numbers a strict parser could refuse or
    turn into a float (more than 18 digits, exponents of 3 digits) are left to orjson."""
    if buf[i] == 45:  # -
        i += 1
    if i >= end:
        return -1
    digits = 0
    if buf[i] == 48:
        i += 1
        digits = 1
    elif 49 <= buf[i] <= 57:
        while i < end and 48 <= buf[i] <= 57:
            i += 1
            digits += 1
    else:
        return -1
    if i < end and buf[i] == 46:  # .
        i += 1
        start = i
        while i < end and 48 <= buf[i] <= 57:
            i += 1
        if i == start:
            return -1
        digits += i - start
    if digits > 18:
        return -1
    if i < end and (buf[i] == 101 or buf[i] == 69):  # e E
        i += 1
        if i < end and (buf[i] == 43 or buf[i] == 45):
            i += 1
        start = i
        while i < end and 48 <= buf[i] <= 57:
            i += 1
        if i == start or i - start > 2:
            return -1
    return i


@numba.njit(cache=True)
def _literal(buf: Any, i: int, end: int) -> int:  # pragma: no cover - compiled
    """The byte after ``true``, ``false`` or ``null`` at i, or -1."""
    c = buf[i]
    if c == 116 and i + 4 <= end:
        ok = buf[i + 1] == 114 and buf[i + 2] == 117 and buf[i + 3] == 101
        return i + 4 if ok else -1
    if c == 102 and i + 5 <= end:
        ok = buf[i + 1] == 97 and buf[i + 2] == 108 and buf[i + 3] == 115 and buf[i + 4] == 101
        return i + 5 if ok else -1
    if c == 110 and i + 4 <= end:
        ok = buf[i + 1] == 117 and buf[i + 2] == 108 and buf[i + 3] == 108
        return i + 4 if ok else -1
    return -1


@numba.njit(cache=True)
def _key(
    buf: Any, i: int, end: int, scratch: Any, plain: bool
) -> int:  # pragma: no cover - compiled
    """At an object key's opening quote: the byte after its ``:``, or -1. With ``plain``,
    a key written with escapes is refused too (it would need decoding to be compared)."""
    if i >= end or buf[i] != 34:
        return -1
    after, length = _string(buf, i + 1, end, scratch, 0, False)
    if after < 0 or (plain and length != after - i - 2):  # escapes make the text shorter
        return -1
    i = _ws(buf, after, end)
    if i >= end or buf[i] != 58:  # :
        return -1
    return i + 1


@numba.njit(cache=True)
def _skip_value(buf: Any, i: int, end: int, stack: Any) -> int:  # pragma: no cover - compiled
    """The byte after the JSON value starting at or after i (nested values included),
    or -1 if it is not one we are sure of."""
    depth = 0
    while True:
        i = _ws(buf, i, end)
        if i >= end:
            return -1
        c = buf[i]
        if c == 34:
            i = _string(buf, i + 1, end, stack, 0, False)[0]
        elif c == 123 or c == 91:  # { [
            if depth >= _MAX_DEPTH:
                return -1
            j = _ws(buf, i + 1, end)
            if j < end and buf[j] == c + 2:  # {} or []: a complete value
                i = j + 1
            else:
                stack[depth] = c
                depth += 1
                i = _key(buf, j, end, stack, False) if c == 123 else j
                if i < 0:
                    return -1
                continue  # the first member's value
        elif c == 45 or 48 <= c <= 57:
            i = _number(buf, i, end)
        else:
            i = _literal(buf, i, end)
        if i < 0:
            return -1
        # After a value: close containers, or move on to the next member.
        while depth > 0:
            i = _ws(buf, i, end)
            if i >= end:
                return -1
            c = buf[i]
            if c == 44:  # ,
                i = _ws(buf, i + 1, end)
                if stack[depth - 1] == 123:
                    i = _key(buf, i, end, stack, False)
                    if i < 0:
                        return -1
                break
            if c == stack[depth - 1] + 2:  # } or ]
                depth -= 1
                i += 1
                continue
            return -1
        if depth == 0:
            return i


@numba.njit(cache=True)
def _field(
    buf: Any, start: int, end: int, names: Any, name_offsets: Any
) -> int:  # pragma: no cover - compiled
    """Which of the names the key in ``buf[start:end]`` is, or -1."""
    for f in range(name_offsets.shape[0] - 1):
        a, b = name_offsets[f], name_offsets[f + 1]
        if b - a != end - start:
            continue
        same = True
        for k in range(b - a):
            if names[a + k] != buf[start + k]:
                same = False
                break
        if same:
            return f
    return -1


@numba.njit(cache=True)
def _line(
    buf: Any,
    start: int,
    end: int,
    names: Any,
    name_offsets: Any,
    stack: Any,
    found: Any,
    out: Any,
    o: int,
) -> tuple[int, int]:  # pragma: no cover - compiled
    """The line at ``start``: if it is a JSON object whose text we are sure of, that
    text, unescaped, at ``out[o:]``; returns (its length, where the line ends: its
    newline or ``end``), or (-1, -1). Nothing here reads past a newline (none is
    valid inside a JSON line), so the line's end is found on the way.

    Candidate fields are written one after the other as they come; the one that
    counts is then moved to ``o``. ``found`` is scratch: per field name, its
    value's kind, place in ``out`` and length.
    """
    n_names = name_offsets.shape[0] - 1
    found[:, 0] = 0
    i = _ws(buf, start, end)
    if i >= end or buf[i] != 123:
        return -1, -1
    i = _ws(buf, i + 1, end)
    at = o
    if i < end and buf[i] == 125:  # {}
        i += 1
    else:
        while True:
            after_key = _key(buf, i, end, stack, True)
            if after_key < 0:
                return -1, -1
            key_end = i + 1  # the key has no escapes: its first quote closes it
            while buf[key_end] != 34:
                key_end += 1
            field = _field(buf, i + 1, key_end, names, name_offsets)
            i = _ws(buf, after_key, end)
            if i >= end:
                return -1, -1
            if field >= 0:
                if found[field, 0] != 0:
                    return -1, -1  # a repeated field: the last one counts; orjson decides
                if buf[i] == 34:
                    after, written = _string(buf, i + 1, end, out, at, True)
                    found[field, 0] = _STRING
                    found[field, 1] = at
                    found[field, 2] = written - at
                    at = written
                else:
                    found[field, 0] = _LIST if buf[i] == 91 else _OTHER
                    after = _skip_value(buf, i, end, stack)
            else:
                after = _skip_value(buf, i, end, stack)
            if after < 0:
                return -1, -1
            i = _ws(buf, after, end)
            if i < end and buf[i] == 44:
                i = _ws(buf, i + 1, end)
                continue
            if i < end and buf[i] == 125:
                i += 1
                break
            return -1, -1
    i = _ws(buf, i, end)
    if i < end and buf[i] != 10:
        return -1, -1
    # The first field, in the caller's order, that holds a string or a list is the text.
    for f in range(n_names):
        kind = found[f, 0]
        if kind == _STRING:
            src, length = int(found[f, 1]), int(found[f, 2])
            if src != o:  # a later field won: move it left (a forward copy is safe)
                for k in range(length):
                    out[o + k] = out[src + k]
            return length, i
        if kind == _LIST:
            return -1, -1  # transcript turns: joined in Python
    return -1, -1


@numba.njit(cache=True)
def read_texts(
    buf: Any, limit: int, names: Any, name_offsets: Any, out: Any
) -> tuple[Any, Any, Any, int]:  # pragma: no cover - compiled
    """Read the lines of ``buf`` that start before ``limit``: the text of every one we
    are sure of, unescaped, into ``out``, one after the other, each followed by a
    newline (``out`` needs room for ``len(buf)`` plus a byte per line).

    Returns (where each line ends: its newline, or the end of ``buf`` for a last
    line without one; per text, its line and its start in ``out``; the lines
    left to the caller; the bytes of ``out`` used).
    """
    n = buf.shape[0]
    stack = np.zeros(_MAX_DEPTH, dtype=np.uint8)
    found = np.zeros((name_offsets.shape[0] - 1, 3), dtype=np.int64)
    ends = np.empty(1024, dtype=np.int64)
    docs = np.empty((1024, 2), dtype=np.int64)
    slow = np.empty(16, dtype=np.int64)
    lines = n_docs = n_slow = 0
    o = 0
    start = 0
    while start < min(n, limit):
        length, end = _line(buf, start, n, names, name_offsets, stack, found, out, o)
        if length < 0:
            end = start
            while end < n and buf[end] != 10:
                end += 1
            if n_slow == slow.shape[0]:
                slow = _grown(slow)
            slow[n_slow] = lines
            n_slow += 1
        else:
            if n_docs == docs.shape[0]:
                docs = _grown(docs)
            docs[n_docs, 0] = lines
            docs[n_docs, 1] = o
            n_docs += 1
            o += length
            out[o] = 10
            o += 1
        if lines == ends.shape[0]:
            ends = _grown(ends)
        ends[lines] = end
        lines += 1
        start = end + 1
    return ends[:lines], docs[:n_docs], slow[:n_slow], o


@numba.njit(cache=True)
def _grown(a: Any) -> Any:  # pragma: no cover - compiled
    """``a`` in an array twice as long (along its first axis)."""
    shape = (2 * a.shape[0], *a.shape[1:])
    b = np.empty(shape, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


def field_names(names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The text field names, in order of preference, as the kernels take them."""
    encoded = [n.encode("utf-8") for n in names]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8), offsets


def line_text_reference(line: bytes, names: tuple[str, ...]) -> bytes | None:
    """The text of one line by the definition :func:`read_texts` is held to: the line
    parsed by orjson and read as the corpus reader reads a record (the first of
    ``names`` that holds text), as UTF-8. None: no text, or not a JSON object. The
    kernel takes a line only when it gives exactly these bytes; any line it is not
    sure of it leaves to this path."""
    import orjson

    from .corpus import Fields, _text_of

    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    text = _text_of(record, Fields(names[0]) if len(names) == 1 else Fields())
    return None if text is None else text.encode("utf-8", "surrogatepass")
