"""The worked timeline of the design (August 2023), step by step."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record, decide
from trainguard.decision.policy import load_policy_file
from trainguard.store import Store
from trainguard.timeutil import parse_instant


def t(s: str) -> datetime:
    return parse_instant(s, "test")


def admin_implied_training_consent(store: Store, at: str = "2023-08-08T10:00:00Z") -> ConsentEvent:
    v2 = store.policy_set().resolve("meetco-terms@2023-08-07").hash
    event = ConsentEvent(
        tenant="acme",
        kind="grant",
        subject="alice",
        role="account_admin",
        categories=("customer.*",),
        uses=("train.*",),
        mode="implied",
        policy_version=v2,
        at=t(at),
    )
    store.add_consent_events([event])
    return event


CHAT_MAY = Record("chat-1", "acme", ("customer.chat",), t("2023-05-01"), ("bob", "carol"))


def test_v1_allows_training_on_everything(timeline_store: Store) -> None:
    d = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-06-01"))
    assert d.allowed
    assert d.reasons == ("ALLOWED",)
    assert d.core.rules == ("2023-03-31#customer-content-any-purpose",)


def test_v2_needs_admin_consent_for_chat_training(timeline_store: Store) -> None:
    d = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-08-09"))
    assert not d.allowed
    assert d.reasons == ("CONSENT_MISSING",)
    assert d.core.consent_required is not None
    assert d.core.consent_required.as_json() == {"from": "account_admin", "mode": "any"}


def test_v2_implied_admin_consent_allows_chat_training_on_aug_9(timeline_store: Store) -> None:
    event = admin_implied_training_consent(timeline_store)
    d = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-08-09"))
    assert d.allowed, d.reasons
    assert d.core.consents == (event.event_id,)
    assert d.to_json()["policy_at_use"]["version"] == "2023-08-07"
    assert d.to_json()["policy_at_collection"]["version"] == "2023-03-31"


def test_v2_leaves_unmentioned_customer_categories_allowed(timeline_store: Store) -> None:
    board = Record("wb", "acme", ("customer.whiteboard",), t("2023-05-01"))
    assert decide(timeline_store.context(), board, "train.first_party", t("2023-08-09")).allowed


def test_v3_denies_training_at_use_whatever_the_consent(timeline_store: Store) -> None:
    admin_implied_training_consent(timeline_store)
    d = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-08-15"))
    assert not d.allowed
    assert d.reasons == ("DENIED_AT_USE",)
    assert "2023-08-11#no-training-on-customer-content" in d.core.rules


def test_v3_allows_features_only_once_admin_enabled(timeline_store: Store) -> None:
    ctx = timeline_store.context()
    assert decide(ctx, CHAT_MAY, "infer.feature", t("2023-08-15")).reasons == ("CONSENT_MISSING",)
    v3 = timeline_store.policy_set().resolve("meetco-terms@2023-08-11").hash
    timeline_store.add_consent_events(
        [
            ConsentEvent(
                tenant="acme",
                kind="grant",
                subject="alice",
                role="account_admin",
                categories=("customer.*",),
                uses=("infer.feature",),
                mode="implied",
                policy_version=v3,
                at=t("2023-08-12"),
            )
        ]
    )
    assert decide(timeline_store.context(), CHAT_MAY, "infer.feature", t("2023-08-15")).allowed


def test_v3_service_data_may_train_and_emotion_recognition_is_denied(timeline_store: Store) -> None:
    ctx = timeline_store.context()
    telemetry = Record("tel", "acme", ("service.telemetry",), t("2023-09-01"))
    assert decide(ctx, telemetry, "train.first_party", t("2023-09-02")).allowed
    video = Record("vid", "acme", ("customer.video",), t("2023-09-01"))
    d = decide(ctx, video, "biometric.emotion_recognition", t("2023-09-02"))
    # Collected and used under v3: both versions deny, and the decision says so.
    assert d.reasons == ("DENIED_AT_COLLECTION", "DENIED_AT_USE")


def test_hypothetical_v4_does_not_reach_content_collected_under_v3(
    timeline_store: Store, policy_files: dict[str, Path]
) -> None:
    timeline_store.add_policies([(load_policy_file(policy_files["v4"]), "v4")])
    v4 = timeline_store.policy_set().resolve("meetco-terms@2024-01-01-hypothetical").hash
    chat_v3 = Record("chat-2", "acme", ("customer.chat",), t("2023-09-01"), ("bob",))
    timeline_store.add_consent_events(
        [
            ConsentEvent(
                tenant="acme",
                kind="grant",
                subject="bob",
                role="self",
                categories=("customer.chat",),
                uses=("train.*",),
                mode="explicit",
                policy_version=v4,
                at=t("2024-01-02"),
            )
        ]
    )
    ctx = timeline_store.context()
    d = decide(ctx, chat_v3, "train.first_party", t("2024-02-01"))
    assert not d.allowed
    assert d.reasons == ("DENIED_AT_COLLECTION",)
    # The same consent does reach content collected under v4 itself.
    chat_v4 = Record("chat-3", "acme", ("customer.chat",), t("2024-01-10"), ("bob",))
    assert decide(ctx, chat_v4, "train.first_party", t("2024-02-01")).allowed


def test_v4_admin_implied_consent_is_wrong_party_and_stale(
    timeline_store: Store, policy_files: dict[str, Path]
) -> None:
    timeline_store.add_policies([(load_policy_file(policy_files["v4"]), "v4")])
    admin_implied_training_consent(timeline_store)
    ctx = timeline_store.context()
    d = decide(ctx, CHAT_MAY, "train.first_party", t("2024-02-01"))
    # v4 needs each participant, explicitly: an admin never stands in for them.
    assert d.reasons == ("CONSENT_WRONG_PARTY",)


@pytest.mark.parametrize(
    ("record", "use", "at", "reason"),
    [
        (
            Record("x", "acme", ("customer.nope",), t("2023-05-01")),
            "train.first_party",
            "2023-06-01",
            "UNKNOWN_CATEGORY",
        ),
        (
            Record("x", "acme", ("customer.chat",), t("2023-05-01")),
            "train.everything",
            "2023-06-01",
            "UNKNOWN_USE",
        ),
        (
            Record("x", "acme", ("customer.chat",), t("2023-05-01")),
            "train.first_party",
            "2023-04-01",
            "INVALID_TIME",
        ),
        (
            Record("x", "acme", ("customer.chat",), t("2022-05-01")),
            "train.first_party",
            "2023-06-01",
            "NO_POLICY_IN_FORCE",
        ),
        (
            Record("x", "acme", (), t("2023-05-01")),
            "train.first_party",
            "2023-06-01",
            "UNKNOWN_CATEGORY",
        ),
    ],
)
def test_never_guess(timeline_store: Store, record: Record, use: str, at: str, reason: str) -> None:
    d = decide(timeline_store.context(), record, use, t(at))
    assert not d.allowed
    assert d.reasons == (reason,)


def test_same_inputs_same_bytes(timeline_store: Store) -> None:
    admin_implied_training_consent(timeline_store)
    a = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-08-09"))
    b = decide(timeline_store.context(), CHAT_MAY, "train.first_party", t("2023-08-09"))
    assert a.canonical_bytes() == b.canonical_bytes()
    assert b"\n" not in a.canonical_bytes()


def test_withdrawal_ends_consent(timeline_store: Store) -> None:
    grant = admin_implied_training_consent(timeline_store)
    timeline_store.add_consent_events(
        [
            ConsentEvent(
                tenant="acme",
                kind="withdraw",
                subject="dave",
                role="account_admin",
                categories=("customer.chat",),
                uses=("train.*",),
                policy_version=grant.policy_version,
                at=t("2023-08-09T12:00:00Z"),
            )
        ]
    )
    ctx = timeline_store.context()
    assert decide(ctx, CHAT_MAY, "train.first_party", t("2023-08-09T11:00:00Z")).allowed
    late = decide(ctx, CHAT_MAY, "train.first_party", t("2023-08-10"))
    assert late.reasons == ("CONSENT_WITHDRAWN",)
    # The withdrawal covered chat only: audio still has the admin's consent.
    audio = Record("a", "acme", ("customer.audio",), t("2023-05-01"))
    assert decide(ctx, audio, "train.first_party", t("2023-08-10")).allowed


def test_derived_record_needs_every_category_allowed(timeline_store: Store) -> None:
    admin_implied_training_consent(timeline_store)
    ctx = timeline_store.context()
    # A transcript derived from audio carries customer.audio too.
    derived = Record("tr", "globex", ("customer.transcript", "customer.audio"), t("2023-05-01"))
    plain = Record("tr", "globex", ("customer.transcript",), t("2023-05-01"))
    assert decide(ctx, plain, "train.first_party", t("2023-08-09")).allowed
    assert decide(ctx, derived, "train.first_party", t("2023-08-09")).reasons == (
        "CONSENT_MISSING",
    )
