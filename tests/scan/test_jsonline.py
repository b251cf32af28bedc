"""The compiled JSONL reader takes a line only when orjson would read the same text.

It may leave any line to orjson (the slow path), but a line it takes must be
valid JSON whose text field, unescaped, is byte for byte what orjson returns;
and ordinary lines — what ``json.dumps`` writes — must be taken, or the fast
path would silently never run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.scan.corpus import TEXT_FIELDS
from trainguard.scan.jsonline import field_names, line_text_reference, read_texts


def _read(lines: list[bytes], names: tuple[str, ...] = TEXT_FIELDS) -> dict[int, bytes]:
    """Line number -> text bytes of every line the compiled reader takes."""
    block = b"\n".join(lines)
    buf = np.frombuffer(block, dtype=np.uint8)
    out = np.empty(len(buf) + 1, dtype=np.uint8)
    ends, docs, slow, used = read_texts(buf, len(buf), *field_names(names), out)
    assert len(docs) + len(slow) == len(ends) == (len(lines) if block else 0)
    assert ends.tolist() == [*np.flatnonzero(buf == 10).tolist(), len(buf)][: len(ends)]
    bounds = [*docs[:, 1].tolist(), used]
    return {int(docs[j, 0]): out[bounds[j] : bounds[j + 1] - 1].tobytes() for j in range(len(docs))}


_STRINGS = st.text(
    alphabet=st.one_of(
        st.sampled_from('ab "\\/\n\t\r\b\f\x00\x1f\x7f\u2028é日😀'),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=30,
)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15), 10**15)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_STRINGS, inner, max_size=3),
    max_leaves=8,
)
_KEYS = st.sampled_from(["id", "text", "content", "turns", "meta", "é"]) | _STRINGS
_RECORDS = st.dictionaries(_KEYS, _VALUES, max_size=5)


@given(st.lists(_RECORDS, min_size=1, max_size=8), st.booleans())
def test_lines_json_dumps_writes_are_taken_with_orjsons_text(
    records: list[dict[str, Any]], ascii_only: bool
) -> None:
    lines = [json.dumps(r, ensure_ascii=ascii_only).encode() for r in records]
    taken = _read(lines)
    for k, line in enumerate(lines):
        want = line_text_reference(line, TEXT_FIELDS)
        if _ordinary(records[k], line, ascii_only):
            assert taken.get(k) == want  # taken, and the same bytes
        elif k in taken:
            assert taken[k] == want


def _ordinary(record: dict[str, Any], line: bytes, ascii_only: bool) -> bool:
    """A line the fast path must take: its text is a string, no key is written with
    escapes, and no number has a three-digit exponent."""
    text = next((record[n] for n in TEXT_FIELDS if isinstance(record.get(n), str | list)), None)
    plain_keys = all(json.dumps(key, ensure_ascii=ascii_only)[1:-1] == key for key in record)
    return isinstance(text, str) and plain_keys and not re.search(rb"[eE][-+]?\d{3}", line)


@given(st.lists(_RECORDS, min_size=1, max_size=4), st.data())
def test_a_line_orjson_refuses_is_never_taken(records: list[dict[str, Any]], data: Any) -> None:
    lines = []
    for r in records:
        raw = bytearray(json.dumps(r, ensure_ascii=data.draw(st.booleans())).encode())
        for _ in range(data.draw(st.integers(1, 3))):
            at = data.draw(st.integers(0, len(raw)))
            raw[at:at] = data.draw(st.sampled_from([b'"', b"\\", b"{", b"}", b",", b":", b"]",
                                                    b"1", b"-", b"\xff", b"\xed\xa0\x80", b"\x01",
                                                    b"\\u", b"e", b".", b"tru", b" "]))  # fmt: skip
        lines.append(bytes(raw).replace(b"\n", b" "))
    taken = _read(lines)
    for k, text in taken.items():
        assert text == line_text_reference(lines[k], TEXT_FIELDS)


@pytest.mark.parametrize(
    "line",
    [
        b"   ",
        b"[1, 2]",
        b'"text"',
        b'{"text": "a"} x',
        b'{"text": "a",}',
        b'{"text": "\\ud800"}',  # a lone surrogate: orjson refuses it
        b'{"text": "a\\x"}',
        b'{"te\\u0078t": "a"}',  # an escaped key: left to orjson, which reads "text"
        b'{"text": "a", "text": "b"}',  # repeated: orjson keeps the last
        b'{"text": [{"speaker": "A", "content": "hi"}]}',  # transcript turns
        b'{"text": 1e400}',
        b'{"n": 123456789012345678901234567890, "text": "a"}',
        b'\xef\xbb\xbf{"text": "a"}',  # a byte order mark
        b'{"text": "\xc0\xaf"}',  # an overlong UTF-8 form
        b'{"text": "\xed\xa0\x80"}',  # a UTF-8 encoded surrogate
        b'{"text": "tab\there"}',  # an unescaped control character
        b"{" * 70 + b"}" * 70,
    ],
)
def test_lines_it_is_not_sure_of_are_left_to_orjson(line: bytes) -> None:
    assert _read([line]) == {}


def test_escapes_and_field_preference() -> None:
    lines = [
        b'{"id": 1, "text": "a\\n\\t\\"\\\\\\/\\b\\f\\r\\u00e9\\u65e5\\ud83d\\ude00"}',
        b'{"content": "second choice", "x": {"y": [1, -2.5e-3, true, null]}, "text": "first"}',
        b'{"text": null, "content": "used when text is not a string"}',
        b'{"body": "custom field"}',
    ]
    taken = _read(lines)
    assert taken[0] == 'a\n\t"\\/\b\f\ré日😀'.encode()
    assert taken[1] == b"first"
    assert taken[2] == b"used when text is not a string"
    assert 3 not in taken
    assert _read(lines[3:], ("body",)) == {0: b"custom field"}


@pytest.mark.parametrize("special", ['"', "\\", "\n", "\x01", "é", "😀", "\x7f"])
def test_a_special_character_at_any_place_in_a_long_string(special: str) -> None:
    # Plain runs are read eight bytes at a time: the special one may fall anywhere in a word.
    lines = [
        json.dumps({"text": "a" * at + special + "b" * (23 - at)}, ensure_ascii=ascii_only).encode()
        for at in range(24)
        for ascii_only in (True, False)
    ]
    assert _read(lines) == {
        k: line_text_reference(line, TEXT_FIELDS) for k, line in enumerate(lines)
    }
