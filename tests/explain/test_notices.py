"""Notices say what the decision core would answer, kind of content by kind; their id
and hash follow their content; serving and acknowledging one is on record — and is
never consent."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from trainguard.canonical import canonical_json
from trainguard.cli import app
from trainguard.decision.decide import Record, decide
from trainguard.decision.policy import PolicyVersion, evaluate_rules, load_policy_file
from trainguard.decision.taxonomy import Taxonomy
from trainguard.errors import ConflictError, InputError, NotFoundError
from trainguard.explain.notice_events import notice_events, record_notice_event
from trainguard.explain.notices import build_notice, notice_html, notice_id, notice_text
from trainguard.explain.terms import Terms
from trainguard.store import Store
from trainguard.store import schema as t

TAXONOMY = Taxonomy()
AUG_12 = datetime(2023, 8, 12, 9, tzinfo=UTC)


@pytest.fixture
def versions(policy_files: dict[str, Path]) -> dict[str, PolicyVersion]:
    return {v: load_policy_file(policy_files[v]) for v in ("v1", "v2", "v3", "v4")}


@pytest.mark.parametrize("v", ["v1", "v2", "v3", "v4"])
@pytest.mark.parametrize("audience", ["participant", "admin"])
def test_every_kind_of_content_is_in_one_section_with_the_core_answer_for_every_use(
    versions: dict[str, PolicyVersion], v: str, audience: str
) -> None:
    version = versions[v]
    notice = build_notice(version, TAXONOMY, audience)
    seen: set[str] = set()
    for section in notice.content["sections"]:
        kinds = [k["category"] for k in section["categories"]]
        assert not seen & set(kinds)
        seen |= set(kinds)
        told = {
            **{u["use"]: "allow" for u in section["used_for"]},
            **{u["use"]: "require_consent" for u in section["with_consent"]},
            **{u["use"]: "deny" for u in section["never"]},
        }
        assert set(told) == set(TAXONOMY.uses)  # every use, in one list only
        for c in kinds:
            for use, effect in told.items():
                assert Terms.of(evaluate_rules(version, c, use)).effect == effect
    expected = set(TAXONOMY.categories)
    if audience == "participant":  # data that is nobody's is not a participant's business
        expected = {c for c in expected if not c.startswith("external.")}
    assert seen == expected


def test_the_august_11_notice_for_participants_in_words(
    versions: dict[str, PolicyVersion],
) -> None:
    notice = build_notice(versions["v3"], TAXONOMY, "participant")
    text = notice_text(notice)
    assert text.startswith("meetco-terms 2023-08-11: No customer content for training")
    assert f"In force from 2023-08-11. Notice {notice.id} (for meeting participants)" in text
    assert (
        "  Never used for: train or fine-tune the platform's own AI models; train or "
        "fine-tune another company's AI models; send content to another company's model for "
        "inference; infer emotions from faces or voices"
    ) in text
    assert (
        "needs your account admin's consent, given explicitly, or implied by turning on a feature"
    ) in text
    assert "ask them to withdraw it" in text
    assert "Being shown this notice, or acknowledging it, is not consent" in text
    html = notice_html(notice)
    assert notice.id in html and "<h2>Your communications</h2>" in html


def test_the_hypothetical_v4_asks_each_participant_and_says_how_to_withdraw(
    versions: dict[str, PolicyVersion],
) -> None:
    text = notice_text(build_notice(versions["v4"], TAXONOMY, "participant"))
    assert (
        "Only with consent: train or fine-tune the platform's own AI models: needs your own "
        "consent, given explicitly"
    ) in text
    assert "You can withdraw your consent at any time." in text
    admin = notice_text(build_notice(versions["v4"], TAXONOMY, "admin"))
    assert "the consent of each person whose content it is (an admin's does not stand in)" in admin


def test_the_hash_is_of_the_content_and_the_id_follows_version_audience_and_content(
    versions: dict[str, PolicyVersion],
) -> None:
    a = build_notice(versions["v3"], TAXONOMY, "participant")
    assert a.hash == hashlib.sha256(canonical_json(a.content)).hexdigest()
    assert a.id == notice_id(versions["v3"].content_hash, "participant", a.hash)
    assert build_notice(versions["v3"], TAXONOMY, "participant") == a  # same inputs, same notice
    assert build_notice(versions["v3"], TAXONOMY, "admin").id != a.id
    assert build_notice(versions["v2"], TAXONOMY, "participant").id != a.id
    wider = TAXONOMY.extended({"customer.sticker": "stickers"}, {})
    assert build_notice(versions["v3"], wider, "participant").hash != a.hash
    with pytest.raises(InputError, match="--audience 'kids'"):
        build_notice(versions["v3"], TAXONOMY, "kids")


# --- served and acknowledged ---------------------------------------------------------------


def _v3_notice(store: Store) -> str:
    version = store.policy_set().resolve("meetco-terms@2023-08-11").version
    return build_notice(version, store.taxonomy(), "participant").id


@pytest.fixture
def timeline(any_store: Store, policy_files: dict[str, Path]) -> Store:
    any_store.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    any_store.assign_tenant("acme", "meetco-terms")
    return any_store


def test_served_then_acknowledged_each_in_the_table_and_the_log(timeline: Store) -> None:
    nid = _v3_notice(timeline)
    served, new = record_notice_event(timeline, nid, "served", "acme", "bob", AUG_12)
    assert new
    again, new_again = record_notice_event(timeline, nid, "served", "acme", "bob", AUG_12)
    assert not new_again and again.id == served.id
    acked, _ = record_notice_event(
        timeline, nid, "acknowledged", "acme", "bob", AUG_12.replace(minute=5)
    )
    assert [e.kind for e in notice_events(timeline)] == ["served", "acknowledged"]
    assert notice_events(timeline, subject="carol") == []
    assert notice_events(timeline, tenant="acme", subject="bob")[1] == acked
    # Everything a row holds is in the log entry written with it.
    with timeline.read() as conn:
        entries = {
            r.kind: json.loads(bytes(r.body))["data"]
            for r in conn.execute(select(t.audit_entries).order_by(t.audit_entries.c.idx))
        }
        stored = conn.execute(select(t.notices)).one()
    assert entries["notice.served"] == served.to_json()
    assert entries["notice.acknowledged"] == acked.to_json()
    logged = entries["notice.stored"]
    assert (logged["id"], logged["hash"], logged["policy_version"], logged["audience"]) == (
        stored.id,
        stored.hash,
        stored.policy_version,
        stored.audience,
    )
    assert canonical_json(logged["notice"]).decode() == stored.body


def test_an_acknowledgement_needs_the_notice_served_first(timeline: Store) -> None:
    nid = _v3_notice(timeline)
    with pytest.raises(ConflictError, match="never served to 'bob' of tenant 'acme'"):
        record_notice_event(timeline, nid, "acknowledged", "acme", "bob", AUG_12)
    record_notice_event(timeline, nid, "served", "acme", "bob", AUG_12)
    with pytest.raises(ConflictError, match="before it was first served"):
        record_notice_event(timeline, nid, "acknowledged", "acme", "bob", AUG_12.replace(hour=8))
    with pytest.raises(ConflictError, match="never served to 'bob' of tenant 'globex'"):
        record_notice_event(timeline, nid, "acknowledged", "globex", "bob", AUG_12)


def test_unknown_notices_and_bad_names_are_refused(timeline: Store) -> None:
    with pytest.raises(NotFoundError, match="notice 'ntc-000': no notice of a stored"):
        record_notice_event(timeline, "ntc-000", "served", "acme", "bob")
    nid = _v3_notice(timeline)
    for tenant, subject in [("", "bob"), ("acme", " bob"), ("acme", "b\nob"), ("a" * 201, "b")]:
        with pytest.raises(InputError):
            record_notice_event(timeline, nid, "served", tenant, subject)
    assert notice_events(timeline) == []


def test_a_notice_served_and_acknowledged_is_not_consent(timeline: Store) -> None:
    v2 = timeline.policy_set().resolve("meetco-terms@2023-08-07").version
    nid = build_notice(v2, timeline.taxonomy(), "admin").id
    when = datetime(2023, 8, 7, 12, tzinfo=UTC)
    record_notice_event(timeline, nid, "served", "acme", "admin-acme", when)
    record_notice_event(timeline, nid, "acknowledged", "acme", "admin-acme", when)
    chat = Record("c1", "acme", ("customer.chat",), datetime(2023, 5, 1, tzinfo=UTC), ("bob",))
    d = decide(timeline.context(), chat, "train.first_party", datetime(2023, 8, 9, tzinfo=UTC))
    assert not d.allowed and d.reasons == ("CONSENT_MISSING",)


# --- the commands ----------------------------------------------------------------------------


def test_notice_commands_end_to_end(tmp_path: Path, policy_files: dict[str, Path]) -> None:
    runner = CliRunner()
    db = ["--db", str(tmp_path / "n.db")]
    assert runner.invoke(app, [*db, "init"]).exit_code == 0
    assert runner.invoke(app, [*db, "policy", "add", str(policy_files["v3"])]).exit_code == 0
    shown = runner.invoke(app, [*db, "notice", "render", "2023-08-11", "--format", "json"])
    assert shown.exit_code == 0, shown.stderr
    nid = json.loads(shown.stdout)["id"]
    page = tmp_path / "notice.html"
    html = runner.invoke(
        app, [*db, "notice", "render", "2023-08-11", "--format", "html", "--out", str(page)]
    )
    assert html.exit_code == 0 and nid in page.read_text()
    who = ["--tenant", "acme", "--subject", "bob"]
    served = runner.invoke(app, [*db, "notice", "serve", nid, *who, "--at", "2023-08-12T09:00:00Z"])
    assert served.exit_code == 0 and "served: acme/bob" in served.stdout
    acked = runner.invoke(app, [*db, "notice", "ack", nid, *who, "--at", "2023-08-12T09:01:00Z"])
    assert acked.exit_code == 0 and "recorded" in acked.stdout
    listed = runner.invoke(app, [*db, "notice", "list", "--subject", "bob", "--json"])
    rows = json.loads(listed.stdout)
    assert [r["kind"] for r in rows] == ["served", "acknowledged"]
    assert {r["notice_id"] for r in rows} == {nid}
    for args, problem in [
        (["notice", "ack", nid, "--tenant", "acme", "--subject", "carol"], "never served"),
        (["notice", "serve", "ntc-0", *who], "no notice of a stored policy version"),
        (["notice", "render", "1999-01-01"], "not in the store"),
        (["notice", "render", "2023-08-11", "--format", "pdf"], "--format 'pdf'"),
        (["notice", "render", "2023-08-11", "--audience", "kids"], "--audience 'kids'"),
        (["notice", "serve", nid, *who, "--at", "yesterday"], "--at"),
    ]:
        bad = runner.invoke(app, [*db, *args])
        assert bad.exit_code == 2, (args, bad.stdout)
        assert bad.stderr.count("\n") == 1 and problem in bad.stderr, bad.stderr
