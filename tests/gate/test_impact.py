"""Models and impact: which models a withdrawal or new terms affect, and by which records."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainguard.decision.policy import load_policy_file
from trainguard.errors import ConflictError, IntegrityError
from trainguard.gate import run_gate
from trainguard.lineage import get_model, impact, list_models, register_model
from trainguard.store import Store

from .conftest import AUG_9, AUG_10, AUG_15, admin_grant


@pytest.fixture
def trained(v1_v2_store: Store, records_parquet: Path, tmp_path: Path) -> Store:
    """Model "m1" trained on Aug 9 on chat and audio the admin had consented to."""
    run_gate(v1_v2_store, [str(records_parquet)], "train.first_party", tmp_path / "set", at=AUG_9)
    register_model(v1_v2_store, "m1", [tmp_path / "set"], AUG_9)
    return v1_v2_store


def test_nothing_is_affected_while_consent_and_terms_hold(trained: Store) -> None:
    [m1] = impact(trained, at=AUG_10)
    assert m1.records == 5 and m1.now_denied == 0 and not m1.affected


def test_a_withdrawal_names_the_model_and_the_records(trained: Store) -> None:
    trained.add_consent_events([admin_grant(trained, "withdraw", "2023-08-09T12:00:00Z")])
    [m1] = impact(trained, at=AUG_10)
    assert m1.affected
    assert m1.by_reason == {"CONSENT_WITHDRAWN": 3}
    assert sorted(m1.record_ids) == ["audio-1", "chat-1", "summary-1"]


def test_new_terms_name_the_model_too(trained: Store, policy_files: dict[str, Path]) -> None:
    trained.add_policies([(load_policy_file(policy_files["v3"]), str(policy_files["v3"]))])
    [m1] = impact(trained, at=AUG_15)
    assert m1.by_reason == {"DENIED_AT_USE": 3}
    # Before v3 takes effect nothing changes: impact is as of a time.
    assert not impact(trained, "m1", AUG_10)[0].affected


def test_models_are_listed_and_shown(trained: Store) -> None:
    assert [m.name for m in list_models(trained)] == ["m1"]
    shown = get_model(trained, "m1").to_json()
    assert shown["records"] == 5 and shown["manifests"][0]["use"] == "train.first_party"


def test_a_name_is_registered_once(trained: Store, tmp_path: Path) -> None:
    with pytest.raises(ConflictError):
        register_model(trained, "m1", [tmp_path / "set"])


def test_a_manifest_changed_after_registration_is_refused(trained: Store, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "set" / "manifest.parquet"
    pq.write_table(pq.read_table(path).slice(1), path)
    with pytest.raises(IntegrityError, match="changed since it was registered"):
        impact(trained, "m1")


def test_impact_for_one_tenant_counts_and_lists_only_its_records(
    trained: Store, policy_files: dict[str, Path]
) -> None:
    """What a tenant's key sees over HTTP: its own records, never another tenant's ids."""
    trained.add_policies([(load_policy_file(policy_files["v3"]), str(policy_files["v3"]))])
    [everyone] = impact(trained, at=AUG_15)
    [acme] = impact(trained, at=AUG_15, tenant="acme")
    [other] = impact(trained, at=AUG_15, tenant="globex")
    assert acme.to_json() == everyone.to_json()  # every record here is acme's
    assert other.records == 0 and other.record_ids == [] and not other.affected
