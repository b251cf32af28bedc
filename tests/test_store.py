"""The store on every backend: SQLite always, PostgreSQL when configured."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record, decide
from trainguard.decision.policy import load_policy_file
from trainguard.errors import NotFoundError
from trainguard.store import Store


def test_policies_consent_and_decisions_round_trip(
    any_store: Store, policy_files: dict[str, Path]
) -> None:
    any_store.add_policies([(load_policy_file(f), str(f)) for f in policy_files.values()])
    ps = any_store.policy_set()
    assert ps.default_family is None  # adding terms never makes them anyone's default
    assert [p.version.version for p in ps.families["meetco-terms"]] == [
        "2023-03-31",
        "2023-08-07",
        "2023-08-11",
        "2024-01-01-hypothetical",
    ]
    v2 = ps.resolve("2023-08-07").hash
    event = ConsentEvent(
        tenant="acme",
        kind="grant",
        subject="alice",
        role="account_admin",
        categories=("customer.*",),
        uses=("train.*",),
        mode="implied",
        policy_version=v2,
        at=datetime(2023, 8, 8, tzinfo=UTC),
    )
    assert any_store.add_consent_events([event]) == (1, 0)
    assert any_store.add_consent_events([event]) == (0, 1)  # idempotent import
    assert any_store.consent_events("acme") == [event]
    rec = Record("c", "acme", ("customer.chat",), datetime(2023, 5, 1, tzinfo=UTC))
    aug_9 = datetime(2023, 8, 9, tzinfo=UTC)
    assert decide(any_store.context(), rec, "train.first_party", aug_9).reasons == (
        "UNKNOWN_TENANT",
    )
    any_store.assign_tenant("acme", "meetco-terms")
    assert decide(any_store.context(), rec, "train.first_party", aug_9).allowed
    # Every change is in the audit log: the origin, 4 policies, 1 consent event, 1 assignment.
    assert any_store.audit.size() == 7


def test_tenant_families_and_unknown_references(
    any_store: Store, policy_files: dict[str, Path]
) -> None:
    any_store.add_policies([(load_policy_file(policy_files["v1"]), "v1")])
    with pytest.raises(NotFoundError, match="policy family 'nope' has no versions"):
        any_store.assign_tenant("acme", "nope")
    any_store.assign_tenant("acme", "meetco-terms")
    assert any_store.policy_set().family_for("acme") == "meetco-terms"
    with pytest.raises(NotFoundError, match="is not in the store"):
        any_store.policy_set().resolve("nope@1")


def test_consent_under_an_unknown_version_writes_nothing(
    any_store: Store, policy_files: dict[str, Path]
) -> None:
    any_store.add_policies([(load_policy_file(policy_files["v1"]), "v1")])
    good = ConsentEvent(
        tenant="a",
        kind="grant",
        subject="s",
        role="self",
        categories=("*",),
        uses=("*",),
        mode="explicit",
        policy_version=any_store.policy_set().resolve("2023-03-31").hash,
        at=datetime(2023, 5, 1, tzinfo=UTC),
    )
    bad = good.model_copy(update={"policy_version": "0" * 64})
    with pytest.raises(NotFoundError):
        any_store.add_consent_events([good, bad])
    assert any_store.consent_events() == []


def test_uninitialized_database_says_so(tmp_path: Path) -> None:
    from trainguard.errors import InputError

    with pytest.raises(InputError, match="is not initialized"):
        Store(str(tmp_path / "empty.db")).check_ready()


def test_a_path_or_sqlite_url_that_would_open_another_file_is_refused() -> None:
    from trainguard.errors import InputError

    for db in ("?=0", "a#b", "sqlite:///x.db?mode=ro"):
        with pytest.raises(InputError, match="database"):
            Store(db)
