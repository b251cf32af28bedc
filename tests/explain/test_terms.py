"""Notices and diffs say what the decision core would answer, every pair of category
and use, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from trainguard.cli import app
from trainguard.decision.policy import PolicyVersion, evaluate_rules, load_policy_file, parse_policy
from trainguard.decision.taxonomy import Taxonomy
from trainguard.explain import Change, Terms, diff, diff_lines, notice, notice_lines
from trainguard.explain.terms import CONSENT_CHANGE, EXPANSION, RESTRICTION, classify

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


# --- classified changes -----------------------------------------------------------------


def _by_pair(changes: list[Change]) -> dict[tuple[str, str], Change]:
    return {(c, u): ch for ch in changes for c in ch.categories for u in ch.uses}


def test_august_7_is_a_restriction_that_reaches_content_already_held(
    versions: dict[str, PolicyVersion],
) -> None:
    [change] = diff(versions["v1"], versions["v2"], TAXONOMY)
    assert change.kind == RESTRICTION
    assert "Stricter from 2023-08-07, for all content, including content collected before" in (
        change.consequence
    )
    assert "`trainguard impact` lists them" in change.consequence


def test_august_11_only_restricts_and_makes_the_august_7_consents_stale(
    versions: dict[str, PolicyVersion],
) -> None:
    changes = diff(versions["v2"], versions["v3"], TAXONOMY)
    assert {c.kind for c in changes} == {RESTRICTION}
    chat = _by_pair(changes)[("customer.chat", "train.first_party")]
    assert chat.after.effect == "deny"
    assert "Consents given under 2023-08-07 for this are stale" in chat.consequence
    # Analytics is no training use: no word about models trained.
    web = _by_pair(changes)[("external.public_web", "analytics.product")]
    assert "trainguard impact" not in web.consequence


def test_hypothetical_v4_expands_training_but_not_to_content_collected_before_it(
    versions: dict[str, PolicyVersion],
) -> None:
    changes = _by_pair(diff(versions["v3"], versions["v4"], TAXONOMY))
    training = changes[("customer.chat", "train.first_party")]
    assert training.kind == EXPANSION
    assert "It does not reach content collected before 2024-01-01" in training.consequence
    assert "needs fresh, explicit consent" in training.consequence
    assert "consent given under 2023-08-11 does not carry over" in training.consequence
    assert "Warning" not in training.consequence  # v4 asks each person explicitly
    assert changes[("customer.chat", "analytics.product")].kind == RESTRICTION


def test_an_expansion_that_asks_nobody_is_flagged(versions: dict[str, PolicyVersion]) -> None:
    back = _by_pair(diff(versions["v3"], versions["v1"], TAXONOMY))
    assert back[("customer.chat", "train.first_party")].kind == EXPANSION
    assert "Warning: 2023-03-31 allows it without asking anyone" in (
        back[("customer.chat", "train.first_party")].consequence
    )


def _consent_version(version: str, from_: str, mode: str, day: str) -> PolicyVersion:
    return parse_policy(
        f"""
family: f
version: {version}
effective_at: {day}T00:00:00Z
default: deny
rules:
  - id: chat-training
    categories: [customer.chat]
    uses: [train.first_party]
    effect: require_consent
    consent: {{from: {from_}, mode: {mode}}}
""",
        "test",
    )


def test_a_changed_consent_requirement_is_a_consent_change_and_old_consents_go_stale() -> None:
    admin = _consent_version("a", "account_admin", "any", "2024-01-01")
    people = _consent_version("b", "every_subject", "explicit", "2024-02-01")
    [stricter] = diff(admin, people, TAXONOMY)
    assert stricter.kind == CONSENT_CHANGE
    assert "The consent it needs is stricter from 2024-02-01" in stricter.consequence
    assert "Consents given under a for this are stale" in stricter.consequence
    [looser] = diff(people, admin, TAXONOMY)
    assert looser.kind == CONSENT_CHANGE
    assert "looser" in looser.consequence
    assert "still needs the stricter of the two requirements" in looser.consequence


_TERMS = st.one_of(
    st.sampled_from([Terms("allow"), Terms("deny")]),
    st.builds(
        lambda f, m: Terms("require_consent", f, m),
        st.sampled_from(["account_admin", "every_subject"]),
        st.sampled_from(["any", "explicit"]),
    ),
)


@given(_TERMS, _TERMS)
def test_a_change_read_backwards_is_its_mirror(a: Terms, b: Terms) -> None:
    mirror = {EXPANSION: RESTRICTION, RESTRICTION: EXPANSION, CONSENT_CHANGE: CONSENT_CHANGE}
    assert classify(b, a) == mirror[classify(a, b)]


def test_policy_diff_cli_prints_kinds_and_consequences(
    tmp_path: Path, policy_files: dict[str, Path]
) -> None:
    runner = CliRunner()
    db = str(tmp_path / "x.db")
    assert runner.invoke(app, ["--db", db, "init"]).exit_code == 0
    files = [str(policy_files[v]) for v in ("v3", "v4")]
    assert runner.invoke(app, ["--db", db, "policy", "add", *files]).exit_code == 0
    text = runner.invoke(app, ["--db", db, "policy", "diff", "2023-08-11", files[1]])
    assert text.exit_code == 0, text.stderr
    assert "2 change(s): 1 expansion, 1 restriction" in text.stdout
    assert "- [expansion] to train or fine-tune" in text.stdout
    as_json = runner.invoke(app, ["--db", db, "policy", "diff", "2023-08-11", files[1], "--json"])
    kinds = sorted(c["kind"] for c in json.loads(as_json.stdout))
    assert kinds == ["expansion", "restriction"]
    bad = runner.invoke(app, ["--db", db, "policy", "diff", "2023-08-11", "2099-nope"])
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1
    assert "2099-nope" in bad.stderr
