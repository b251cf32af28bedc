"""Notices and diffs say what the decision core would answer, every pair of category
and use, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.explain import Terms, diff, diff_lines, notice, notice_lines
from trainguard.policy import PolicyVersion, evaluate_rules, load_policy_file
from trainguard.taxonomy import Taxonomy

TAXONOMY = Taxonomy()


@pytest.fixture
def versions(policy_files: dict[str, Path]) -> dict[str, PolicyVersion]:
    return {v: load_policy_file(policy_files[v]) for v in ("v1", "v2", "v3", "v4")}


def pairs() -> list[tuple[str, str]]:
    return [(c, u) for c in TAXONOMY.categories for u in TAXONOMY.uses]


@pytest.mark.parametrize(("old", "new"), [("v1", "v2"), ("v2", "v3"), ("v3", "v4"), ("v1", "v3")])
def test_a_diff_lists_exactly_the_pairs_whose_answer_changed(
    versions: dict[str, PolicyVersion], old: str, new: str
) -> None:
    a, b = versions[old], versions[new]
    listed = {}
    for change in diff(a, b, TAXONOMY):
        for c in change.categories:
            for u in change.uses:
                assert (c, u) not in listed  # each pair in one change only
                listed[(c, u)] = (change.before, change.after)
    for c, u in pairs():
        before, after = Terms.of(evaluate_rules(a, c, u)), Terms.of(evaluate_rules(b, c, u))
        if before == after:
            assert (c, u) not in listed
        else:
            assert listed[(c, u)] == (before, after)


def test_a_version_against_itself_changes_nothing(versions: dict[str, PolicyVersion]) -> None:
    assert diff(versions["v3"], versions["v3"], TAXONOMY) == []
    lines = diff_lines(versions["v3"], versions["v3"], [], TAXONOMY)
    assert lines == ["meetco-terms 2023-08-11 -> meetco-terms 2023-08-11: no answer changed"]


def test_the_august_7_change_is_consent_for_training_on_audio_video_and_chat(
    versions: dict[str, PolicyVersion],
) -> None:
    [change] = diff(versions["v1"], versions["v2"], TAXONOMY)
    assert set(change.categories) == {"customer.audio", "customer.video", "customer.chat"}
    assert set(change.uses) == {"train.first_party", "train.third_party"}
    assert change.before.says() == "allowed"
    assert change.after.says() == "only with the consent of the account admin (explicit or implied)"


def test_a_notice_gives_every_pair_the_core_answer_and_cites_the_rules(
    versions: dict[str, PolicyVersion],
) -> None:
    v3 = versions["v3"]
    data = notice(v3, TAXONOMY)
    seen = set()
    for use in data["uses"]:
        for terms in use["terms"]:
            for c in terms["categories"]:
                assert (c, use["use"]) not in seen
                seen.add((c, use["use"]))
                assert Terms.of(evaluate_rules(v3, c, use["use"])).to_json() == {
                    k: v for k, v in terms.items() if k in ("effect", "consent")
                }
    assert seen == set(pairs())
    text = "\n".join(notice_lines(data, TAXONOMY))
    assert "train or fine-tune the platform's own AI models (train.first_party):\n  never:" in text
    assert "Customer content never trains our models or anyone else's." in text
    assert "(what no rule names is denied by default)" in text


def test_policy_notice_and_diff_from_the_cli_with_a_draft_file(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    runner = CliRunner()
    db = str(tmp_path / "x.db")
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    added = runner.invoke(app, ["--db", db, "policy", "add", str(policy_files["v2"])])
    assert added.exit_code == 0
    # A draft not yet added, against the stored terms: what would it change?
    result = runner.invoke(
        app,
        [
            "--db",
            db,
            "policy",
            "diff",
            "meetco-terms@2023-08-07",
            str(policy_files["v3"]),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    changes = json.loads(result.stdout)
    assert any(
        "customer.chat" in c["categories"] and "train.first_party" in c["uses"]
        and c["after"]["effect"] == "deny"
        for c in changes
    )  # fmt: skip
    shown = runner.invoke(app, ["--db", db, "policy", "notice", "meetco-terms@2023-08-07"])
    assert shown.exit_code == 0 and "only with the consent of the account admin" in shown.stdout
    missing = runner.invoke(app, ["--db", db, "policy", "notice", "meetco-terms@1999-01-01"])
    assert missing.exit_code == 2 and missing.stderr.count("\n") == 1
    assert "not in the store" in missing.stderr
