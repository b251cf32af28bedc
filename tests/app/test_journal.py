"""Group commit: concurrent decisions are each logged exactly once, in a log
that verifies; a decision is made again when the log shows its context was
overtaken before its commit, and refused when its key was revoked meanwhile —
whichever process changed the store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from trainguard.app import Application, Unauthenticated, create_key, revoke_key
from trainguard.decision.consent import ConsentEvent
from trainguard.store import Store

from ..http.conftest import grant


def decide_chat(application: Application, token: str, record_id: str) -> dict:  # type: ignore[type-arg]
    who = application.authenticate(token, fresh=False)
    return application.submit_decide(
        who,
        categories=["customer.chat"],
        use="train.first_party",
        collected_at="2023-05-01",
        at="2023-08-09",
        record_id=record_id,
    ).result()


@pytest.fixture
def application(timeline_store: Store, tmp_path: Path) -> Application:
    timeline_store.assign_tenant("acme", "meetco-terms")
    app = Application(timeline_store, tmp_path / "r", tmp_path / "k")
    yield app  # type: ignore[misc]
    app.close()


def test_concurrent_decisions_are_each_logged_once_in_a_log_that_verifies(
    application: Application,
) -> None:
    token = create_key(application.store, "service", "acme")[1]
    before = application.store.audit.size()
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda i: decide_chat(application, token, f"chat-{i}"), range(400)))
    indexes = [a["audit_index"] for a in answers]
    assert sorted(indexes) == list(range(before, before + 400))
    for answer in answers[::50]:
        entry = application.store.audit.entry(answer["audit_index"])["entry"]
        assert entry["kind"] == "decision"
        assert entry["data"]["record"]["id"] == answer["record"]["id"]
    assert application.store.audit.verify().ok


def test_a_decision_overtaken_by_a_consent_change_is_made_again_before_it_is_logged(
    application: Application, timeline_store: Store
) -> None:
    token = create_key(application.store, "service", "acme")[1]
    assert decide_chat(application, token, "chat-1")["allowed"] is False  # no consent yet
    # Another process grants consent: this process's cached context does not know.
    other = Store(timeline_store.url)
    v2 = other.policy_set().resolve("meetco-terms@2023-08-07").hash
    other.add_consent_events([ConsentEvent.model_validate({**grant(), "policy_version": v2})])
    assert application.journal.redone == 0
    answer = decide_chat(application, token, "chat-2")
    assert answer["allowed"] is True and application.journal.redone == 1
    logged = application.store.audit.entry(answer["audit_index"])["entry"]["data"]
    assert logged["allowed"] is True and logged["consents"] == answer["consents"]
    other.engine.dispose()


def test_a_key_revoked_elsewhere_is_refused_at_commit_and_nothing_is_logged(
    application: Application, timeline_store: Store
) -> None:
    key, token = create_key(application.store, "service", "acme")
    decide_chat(application, token, "chat-1")  # the key is now in this process's cache
    other = Store(timeline_store.url)
    revoke_key(other, key.id)
    size = application.store.audit.size()
    with pytest.raises(Unauthenticated, match="revoked"):
        decide_chat(application, token, "chat-2")
    assert application.store.audit.size() == size
    with pytest.raises(Unauthenticated):  # and from then on before deciding at all
        application.authenticate(token, fresh=False)
    other.engine.dispose()


def test_entries_without_decisions_are_appended_as_given(application: Application) -> None:
    size = application.store.audit.size()
    assert application.journal.append_many([("note.a", {"n": 1}), ("note.b", {"n": 2})]) == [
        size,
        size + 1,
    ]
    assert application.store.audit.entry(size + 1)["entry"]["kind"] == "note.b"


def test_two_services_on_one_store_write_one_consistent_log(
    application: Application, timeline_store: Store, tmp_path: Path
) -> None:
    """As two server processes would: each its own writer and cache, one log."""
    other = Application(Store(timeline_store.url), tmp_path / "r2", tmp_path / "k2")
    token = create_key(application.store, "service", "acme")[1]
    before = application.store.audit.size()
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: decide_chat((application, other)[i % 2], token, f"chat-{i}"),
                range(200),
            )
        )
    assert sorted(a["audit_index"] for a in answers) == list(range(before, before + 200))
    assert application.store.audit.verify().ok
    # Each saw the other's decisions in the log and read none of them back.
    assert application.contexts.loads == other.contexts.loads == 1
    assert application.journal.redone == other.journal.redone == 0
    other.close()
    other.store.engine.dispose()
