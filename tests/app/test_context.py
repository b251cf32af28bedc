"""The decision context follows the audit log: consent events are added to the
cached ledger one by one, a change of terms rebuilds it, and decisions — which
append to the log themselves — never force a reload. Loads are counted, not timed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trainguard.app import Application, create_key
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record, decide
from trainguard.store import Store

from ..http.conftest import Api, chat, grant


def events(n: int, policy: str) -> list[ConsentEvent]:
    start = datetime(2023, 8, 8, tzinfo=UTC)
    return [
        ConsentEvent.model_validate(
            {
                **grant(
                    subject=f"person-{i}",
                    role="self",
                    categories=["customer.chat"],
                    mode="explicit",
                ),
                "policy_version": policy,
                "at": start + timedelta(seconds=i),
            }
        )
        for i in range(n)
    ]


def test_20000_consent_events_are_read_once_not_per_decision(
    timeline_store: Store, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from trainguard.http import create_app

    v2 = timeline_store.policy_set().resolve("meetco-terms@2023-08-07").hash
    timeline_store.add_consent_events(events(20_000, v2))
    application = Application(timeline_store, tmp_path / "r", tmp_path / "k")
    token = create_key(timeline_store, "service", "acme")[1]
    api = Api(create_app(application=application), token)
    for _ in range(5):
        assert api.post("/v1/decisions", json=chat()).status_code == 200
    assert application.contexts.loads == 1
    admin = Api(api.app, create_key(timeline_store, "admin", "acme")[1])
    assert admin.post("/v1/consent/events", json={"events": [grant()]}).json()["recorded"] == 1
    decided = api.post("/v1/decisions", json=chat()).json()
    assert decided["allowed"] is True  # the new grant is in the cached ledger
    assert application.contexts.loads == 1 and application.contexts.replayed == 1
    assert len(application.context().ledger) == 20_001
    application.close()


def test_the_cache_decides_as_a_fresh_load_does(timeline_store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    application = Application(timeline_store, tmp_path / "r", tmp_path / "k")
    application.context()
    v2 = timeline_store.policy_set().resolve("meetco-terms@2023-08-07").hash
    start = datetime(2023, 8, 8, tzinfo=UTC)
    grants = [
        ConsentEvent.model_validate(
            {**grant(tenant=f"t-{i}"), "policy_version": v2, "at": start + timedelta(seconds=i)}
        )
        for i in range(50)
    ]
    timeline_store.add_consent_events(grants[:25])
    application.context()
    timeline_store.add_consent_events(grants[25:])
    cached, fresh = application.context(), timeline_store.context()
    at = datetime(2023, 8, 9, tzinfo=UTC)
    for i in (0, 24, 25, 49, 50):
        record = Record("r", f"t-{i}", ("customer.chat",), datetime(2023, 5, 1, tzinfo=UTC))
        answer = decide(cached, record, "train.first_party", at).to_json()
        assert answer == decide(fresh, record, "train.first_party", at).to_json()
        assert answer["allowed"] is (i < 50)
    assert application.contexts.loads == 1 and application.contexts.replayed == 50


def test_a_change_of_terms_rebuilds_the_context(timeline_store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    application = Application(timeline_store, tmp_path / "r", tmp_path / "k")
    before = application.context()
    assert before.policies.family_for("globex") == "meetco-terms"
    timeline_store.set_default_family(None)
    after = application.context()
    assert application.contexts.loads == 2 and after.policies.family_for("globex") is None


def test_decisions_appended_by_the_service_are_skipped_unread(
    timeline_store: Store, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    application = Application(timeline_store, tmp_path / "r", tmp_path / "k")
    token = create_key(timeline_store, "service", "acme")[1]
    who = application.authenticate(token)
    for _ in range(3):
        application.decide(
            who, categories=["customer.chat"], use="train.first_party", collected_at="2023-05-01"
        )
    assert application.contexts.loads == 1
    application.close()


def test_a_decision_reads_only_its_partys_consent_events(
    monkeypatch, timeline_store: Store
) -> None:  # type: ignore[no-untyped-def]
    """Counted, not timed: with 2,000 other people's grants on record, deciding for
    one person looks at that person's events (and, once, at who else granted)."""
    v2 = timeline_store.policy_set().resolve("meetco-terms@2023-08-07").hash
    timeline_store.add_consent_events(events(2_000, v2))
    ctx = timeline_store.context()
    looked_at = 0
    covers = ConsentEvent.covers

    def counted(self: ConsentEvent, category: str, use: str) -> bool:
        nonlocal looked_at
        looked_at += 1
        return covers(self, category, use)

    monkeypatch.setattr(ConsentEvent, "covers", counted)
    at = datetime(2023, 8, 9, tzinfo=UTC)
    record = Record(
        "r", "acme", ("customer.chat",), datetime(2023, 5, 1, tzinfo=UTC), ("person-7",)
    )
    decide(ctx, record, "train.first_party", at)  # builds the indexes: reads every event once
    looked_at = 0
    for _ in range(10):
        decide(ctx, record, "train.first_party", at)
    assert looked_at <= 10 * 2
