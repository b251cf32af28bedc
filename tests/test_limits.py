"""The shared bounds and their one-line messages: names, files read whole, outputs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trainguard.errors import InputError
from trainguard.limits import (
    MAX_NAME_CHARS,
    check_name,
    is_file,
    make_folder,
    one_line,
    read_bounded,
    read_bounded_text,
    shown,
    write_output,
)

ANY_TEXT = st.text(st.characters(exclude_categories=()))


@given(ANY_TEXT)
def test_one_line_is_one_printable_line(text: str) -> None:
    line = one_line(text)
    assert len(line.splitlines()) <= 1
    line.encode("utf-8")  # no lone surrogate left to break an encoder


@given(ANY_TEXT)
def test_shown_is_short_printable_and_quoted(text: str) -> None:
    out = shown(text, 20)
    assert len(out.splitlines()) <= 1 and out[0] in "'\""
    out.encode("utf-8")
    quoted, _, rest = out.partition("… (")
    assert len(quoted) <= 20 + 2  # escapes count against the limit, not beside it
    assert (rest == "") == (
        ast.literal_eval(quoted) == text
    )  # cut exactly when something is left out
    assert rest in ("", f"{len(text):,} characters)")


def test_a_value_of_wide_escapes_is_cut_to_the_limit() -> None:
    out = shown("0" * 9 + "\x1f" * 16 + "\U00010000" * 12, 80)
    assert out.startswith("'000000000\\x1f") and out.endswith("… (37 characters)")
    assert len(out.partition("… (")[0]) <= 82


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("a\x00b", "contains a NUL character"),
        ("a\udcffb", "is not valid UTF-8 (it holds a lone surrogate)"),
        ("a\nb", "contains a control character"),
        ("x" * (MAX_NAME_CHARS + 1), f"is longer than {MAX_NAME_CHARS} characters"),
    ],
)
def test_names_are_bounded_text(value: str, problem: str) -> None:
    with pytest.raises(InputError) as err:
        check_name(value, "--tenant")
    assert str(err.value).startswith("--tenant ") and str(err.value).endswith(problem)
    assert "\n" not in str(err.value)


def test_valid_names_pass_unchanged() -> None:
    for name in ("acme", "chat-1", "Zoë's team", "x" * MAX_NAME_CHARS, "🙂"):
        assert check_name(name, "--id") == name


def test_files_read_whole_are_bounded_and_named(tmp_path: Path) -> None:
    f = tmp_path / "f.json"
    f.write_bytes(b"x" * 100)
    assert read_bounded(f, 100) == b"x" * 100
    with pytest.raises(InputError, match=r"f.json: larger than 99 bytes; refused"):
        read_bounded(f, 99)
    with pytest.raises(InputError, match=r"^--proof .*missing: no such file$"):
        read_bounded(tmp_path / "missing", 10, "--proof")
    with pytest.raises(InputError, match="is a folder, not a file"):
        read_bounded(tmp_path, 10)
    with pytest.raises(InputError, match="cannot read"):
        read_bounded("a\x00b", 10)
    (tmp_path / "bin").write_bytes(b"ok \xff")
    with pytest.raises(InputError, match=r"not UTF-8 text \(byte 3\)"):
        read_bounded_text(tmp_path / "bin", 10)


def test_outputs_name_the_missing_folder_or_the_folder_in_the_way(tmp_path: Path) -> None:
    write_output(tmp_path / "ok.json", "{}")
    assert (tmp_path / "ok.json").read_text() == "{}"
    with pytest.raises(InputError, match=r"^--out .*/nope/x.json: folder .*/nope does not exist$"):
        write_output(tmp_path / "nope" / "x.json", "{}", "--out")
    with pytest.raises(InputError, match="is a folder; name a file"):
        write_output(tmp_path, b"", "--out")
    make_folder(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    with pytest.raises(InputError, match="is a file, not a folder"):
        make_folder(tmp_path / "ok.json", "--export")


def test_is_file_is_false_for_what_cannot_be_a_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    assert is_file(tmp_path / "f")
    assert not is_file(tmp_path)
    assert not is_file("x" * 10_000)  # too long a name for the OS
    assert not is_file("a\x00b")
