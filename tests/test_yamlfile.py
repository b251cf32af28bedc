"""trainguard's YAML files are bounded: no anchors or aliases (so no alias bomb), no
nesting past MAX_YAML_DEPTH, nothing over MAX_YAML_BYTES — each refused in one line
naming the file and the line, before the document is built."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from trainguard import yamlfile
from trainguard.decision.policy import load_policy_file, parse_policy
from trainguard.errors import InputError, PolicyFileError
from trainguard.limits import MAX_POLICY_RULES, MAX_YAML_BYTES, MAX_YAML_DEPTH
from trainguard.yamlfile import parse_yaml

# "Billion laughs": eleven levels of nine aliases each, 9**11 strings once expanded;
# 412 bytes as written.
BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
    "j: &j [*i,*i,*i,*i,*i,*i,*i,*i,*i]\n"
    "k: &k [*j,*j,*j,*j,*j,*j,*j,*j,*j]\n"
)


def test_the_alias_bomb_is_refused_before_any_node_is_built(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB)
    assert path.stat().st_size < 1024
    with mock.patch.object(yamlfile, "_node_to_python") as build:
        tracemalloc.start()
        try:
            with pytest.raises(PolicyFileError) as err:
                load_policy_file(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    build.assert_not_called()  # nothing was composed, let alone expanded
    assert peak < 1024 * 1024  # the expansion would need gigabytes
    assert str(err.value) == f"{path}: line 1: anchors and aliases (& and *) are not allowed"


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",  # refers to itself
        "base: &base {x: 1}\nother:\n  <<: *base\n",  # a merge key
        "a: !!str &x text\n",  # an anchor with nothing referring to it
    ],
)
def test_any_anchor_or_alias_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="anchors and aliases"):
        parse_yaml(text)


@given(st.from_regex(r"[a-z]{1,8}", fullmatch=True), st.integers(0, 5))
def test_an_anchor_anywhere_names_its_line(name: str, line: int) -> None:
    text = "".join(f"k{i}: v\n" for i in range(line)) + f"x: &{name} 1\n"
    with pytest.raises(InputError, match=f"^line {line + 1}: anchors"):
        parse_yaml(text)


def test_nesting_past_the_limit_is_refused_with_its_line() -> None:
    ok = "a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n"
    assert parse_yaml(ok)[0]["a"] is not None
    deep = "".join("  " * i + f"k{i}:\n" for i in range(MAX_YAML_DEPTH + 5)) + "  " * 40 + "v\n"
    with pytest.raises(InputError, match=rf"^line {MAX_YAML_DEPTH + 1}: nested deeper than 32"):
        parse_yaml(deep)
    # No RecursionError, however deep: the refusal comes from the event stream.
    with pytest.raises(InputError):
        parse_yaml("[" * 100_000)


def test_a_file_over_the_size_limit_is_refused_without_being_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * MAX_YAML_BYTES + "\n")
    with (
        mock.patch.object(yaml, "parse") as parse,
        pytest.raises(PolicyFileError, match=r"big.yaml: larger than 262,144 bytes; refused"),
    ):
        load_policy_file(path)
    parse.assert_not_called()
    with pytest.raises(InputError, match="a file may have at most 262,144"):
        parse_yaml("#" * (MAX_YAML_BYTES + 1))


def test_a_policy_of_many_rules_within_the_limits_parses() -> None:
    rules = "".join(
        f"  - id: r{i}\n    categories: [customer.chat]\n    uses: [train.first_party]\n"
        "    effect: deny\n"
        for i in range(MAX_POLICY_RULES)
    )
    text = "family: f\nversion: '1'\neffective_at: 2023-01-01T00:00:00Z\ndefault: deny\nrules:\n"
    assert len((text + rules).encode()) < MAX_YAML_BYTES
    assert len(parse_policy(text + rules, "many.yaml").rules) == MAX_POLICY_RULES
    one_more = (
        rules
        + "  - id: extra\n    categories: [customer.chat]\n    uses: [train.*]\n    effect: deny\n"
    )
    with pytest.raises(
        PolicyFileError, match="line 6: rules: Tuple should have at most 1000 items"
    ):
        parse_policy(text + one_more, "too-many.yaml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("? [a, b]\n: 1\n", "line 1: a key must be a plain value"),
        ("a: " + "9" * 5000 + "\n", "line 1: Exceeds the limit (4300 digits)"),
        ("a: \x00\n", "not valid YAML"),
        ("a: \udcff\n", "not valid UTF-8"),
        ("a: [1\n", "not valid YAML"),
        ("a: !!python/object:os.system x\n", "not valid YAML"),
        ("", "the file is empty"),
    ],
)
def test_malformed_yaml_is_one_input_error(text: str, problem: str) -> None:
    with pytest.raises(InputError) as err:
        parse_yaml(text)
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_files_that_cannot_be_read_are_named(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("a: café\n".encode("latin-1"))
    for name, problem in [
        ("missing.yaml", "no such file"),
        (".", "is a folder, not a file"),
        ("latin1.yaml", "not UTF-8 text"),
    ]:
        with pytest.raises(PolicyFileError, match=problem):
            load_policy_file(tmp_path / name)


@given(st.text(max_size=200))
def test_any_text_parses_or_is_one_input_error(text: str) -> None:
    try:
        parse_yaml(text)
    except InputError as exc:
        assert "\n" not in str(exc)
