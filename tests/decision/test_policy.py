"""Policy files: strict validation with the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.decision.policy import load_policy_file, parse_policy
from trainguard.errors import ConflictError, PolicyFileError
from trainguard.store import Store

GOOD = """\
family: acme-terms
version: "2023-08-11"
effective_at: 2023-08-11T00:00:00Z
default: deny
rules:
  - id: no-training
    categories: ["customer.*"]
    uses: ["train.*"]
    effect: deny
  - id: summaries
    categories: ["customer.*"]
    uses: ["infer.feature"]
    effect: require_consent
    consent: {from: account_admin, mode: any}
"""


def test_a_valid_policy_parses_and_hashes_stably() -> None:
    p = parse_policy(GOOD, "good.yaml")
    assert p.family == "acme-terms"
    assert len(p.rules) == 2
    reformatted = GOOD.replace('["customer.*"]', "\n      - customer.*", 1) + "# a comment\n"
    assert parse_policy(reformatted, "b.yaml").content_hash == p.content_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("default: deny\n", ""),
            "bad.yaml: line 1: default: required field is missing",
        ),
        (
            GOOD.replace("    effect: deny", "    effect: deny\n    colour: red"),
            "bad.yaml: line 10: rules.0.colour: unknown field",
        ),
        (
            GOOD.replace("customer.*", "customer.chats", 1),
            "bad.yaml: line 7: rule 'no-training': unknown category 'customer.chats'",
        ),
        (GOOD.replace("customer.*", "customer", 1), "did you mean customer.*?"),
        (GOOD.replace("train.*", "tr*in", 1), "'*' may only end a pattern"),
        (GOOD.replace("id: summaries", "id: no-training"), "duplicate rule id 'no-training'"),
        (
            GOOD.replace("2023-08-11T00:00:00Z", "2023-08-11T00:00:00"),
            "line 3: effective_at: '2023-08-11T00:00:00' has no timezone",
        ),
        (GOOD.replace("effect: deny", "effect: maybe"), "line 9: rules.0.effect"),
        (
            GOOD.replace("    consent: {from: account_admin, mode: any}\n", ""),
            "effect require_consent needs a consent",
        ),
        (GOOD.replace("mode: any", "mode: sometimes"), "rules.1.consent.mode"),
        (GOOD + "family: other\n", "line 15: duplicate key 'family'"),
        ("family: [unclosed\n", "bad.yaml: line 2: not valid YAML"),
        ("", "bad.yaml: the file is empty"),
        ("- a\n- b\n", "a policy file must be a mapping"),
    ],
)
def test_invalid_policies_are_refused_with_file_line_and_problem(text: str, expected: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(text, "bad.yaml")
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="nope.yaml: no such file"):
        load_policy_file(tmp_path / "nope.yaml")


def test_versions_are_immutable_and_effective_times_unique(store: Store) -> None:
    p = parse_policy(GOOD, "a.yaml")
    assert store.add_policies([(p, "a.yaml")])[0][1] is True
    assert store.add_policies([(p, "a.yaml")])[0][1] is False  # same content: a no-op
    changed = parse_policy(GOOD.replace("default: deny", "default: allow"), "b.yaml")
    with pytest.raises(ConflictError, match="already in the store with different content"):
        store.add_policies([(changed, "b.yaml")])
    same_time = parse_policy(GOOD.replace('version: "2023-08-11"', 'version: "other"'), "c.yaml")
    with pytest.raises(ConflictError, match="already has version '2023-08-11' effective at"):
        store.add_policies([(same_time, "c.yaml")])
    assert len(store.policies()) == 1
