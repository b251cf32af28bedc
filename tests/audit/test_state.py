"""`audit verify` holds every table decisions read to the log: a table of attacks.

Each attack edits, deletes or inserts through raw SQL — what someone with
write access to the database could do — and verification must fail, naming
the table and the row (or the entry of the log). Both backends; on SQLite both
readers (Arrow and the driver).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from trainguard.audit.merkle import leaf_hash
from trainguard.audit.note import Signer
from trainguard.audit.state import data_digest
from trainguard.canonical import canonical_json
from trainguard.cli import app
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record, decide
from trainguard.decision.policy import load_policy_file
from trainguard.errors import ConflictError, InputError
from trainguard.gate import run_gate
from trainguard.lineage import register_model
from trainguard.store import Store
from trainguard.timeutil import parse_instant

from ..gate.conftest import AUG_9, records

AUG_8 = parse_instant("2023-08-08T10:00:00Z", "test")


@pytest.fixture(scope="module")
def training_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gate output folder (the store it was gated through is thrown away)."""
    import pyarrow.parquet as pq

    from trainguard.demo.run import copy_policy_files

    base = tmp_path_factory.mktemp("set")
    pq.write_table(records(), base / "records.parquet")
    store = Store(str(base / "gate.db"))
    store.init()
    files = copy_policy_files(base)
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    store.set_default_family("meetco-terms")
    run_gate(store, [str(base / "records.parquet")], "infer.feature", base / "out", at=AUG_9)
    store.engine.dispose()
    return base / "out"


def event(store: Store, kind: str, subject: str, role: str, minute: int) -> ConsentEvent:
    return ConsentEvent(
        tenant="acme",
        kind=kind,  # type: ignore[arg-type]
        subject=subject,
        role=role,  # type: ignore[arg-type]
        categories=("customer.*",),
        uses=("train.*",),
        mode="implied" if kind == "grant" else None,
        policy_version=store.policy_set().resolve("meetco-terms@2023-08-07").hash,
        at=parse_instant(f"2023-08-08T10:{minute:02d}:00Z", "test"),
    )


@pytest.fixture(params=["arrow", "driver"])
def state(
    request: pytest.FixtureRequest,
    any_store: Store,
    policy_files: dict[str, Path],
    training_set: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Store, dict[str, Any]]]:
    """A store holding a row in every state table, and the names of those rows.

    Entries: 0 origin; 1-3 policies v1-v3; 4 default family; 5-6 tenants;
    7 taxonomy; 8-10 consent (alice grants, alice withdraws, bob grants);
    11 model m1 (two manifests); 12-13 two plain entries.
    """
    if request.param == "driver":
        monkeypatch.setattr("trainguard.audit.log._arrow_reader_available", lambda: False)
    elif any_store.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the Arrow reader is for SQLite files")
    s = any_store
    added = s.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    s.set_default_family("meetco-terms")
    s.assign_tenant("acme", "meetco-terms")
    s.assign_tenant("globex", "meetco-terms")
    s.extend_taxonomy({"customer.sticker": "Stickers sent in a chat"}, {"train.eval": "Evals"})
    events = [
        event(s, "grant", "alice", "account_admin", 0),
        event(s, "withdraw", "alice", "account_admin", 5),
        event(s, "grant", "bob", "self", 1),
    ]
    s.add_consent_events(events)
    register_model(s, "m1", [training_set, training_set], AUG_9)
    s.audit.record_many([("note", {"who": "carol"}), ("note", {"who": "dave"})])
    names = {
        "v1": added[0][0][:16],
        "v3": added[2][0][:16],
        "v3_full": added[2][0],
        "grant": events[0].event_id,
        "withdraw": events[1].event_id,
        "bob": events[2].event_id,
    }
    assert s.audit.verify(None).ok
    yield s, names


def sql(store: Store, *statements: str) -> None:
    with store.write() as conn:
        for statement in statements:
            conn.execute(text(statement))


P, TF, ST, TK, CE = (
    "tg_policy_versions",
    "tg_tenant_families",
    "tg_settings",
    "tg_taxonomy_keys",
    "tg_consent_events",
)
M, MM, AE = "tg_models", "tg_model_manifests", "tg_audit_entries"
V3 = "version = '2023-08-11'"
WD = "id = '{withdraw}'"
COPY_CE = (
    f"INSERT INTO {CE} (id, tenant, kind, subject, role, at_us, body, recorded_at_us) "
    f"SELECT 'ce_forged', tenant, kind, 'mallory', role, at_us, body, recorded_at_us "
    f"FROM {CE} WHERE id = '{{bob}}'"
)

# (attack, SQL statements, words the failure must hold). {names} come from the fixture.
ATTACKS: list[tuple[str, list[str], list[str]]] = [
    # --- tg_policy_versions: every column, deletion, insertion
    (
        "policy body: a deny made allow",
        [f"UPDATE {P} SET body = replace(body, '\"deny\"', '\"allow\"') WHERE {V3}"],
        [P, "row {v3}", "body does not hash"],
    ),
    ("policy hash", [f"UPDATE {P} SET hash = '{'0' * 64}' WHERE {V3}"], [P, "row {v3}", "deleted"]),
    ("policy family", [f"UPDATE {P} SET family = 'other' WHERE {V3}"], [P, "{v3}", "family"]),
    ("policy version", [f"UPDATE {P} SET version = 'x' WHERE {V3}"], [P, "{v3}", "version"]),
    (
        "policy effective_at_us",
        [f"UPDATE {P} SET effective_at_us = effective_at_us + 1 WHERE {V3}"],
        [P, "{v3}", "effective_at_us"],
    ),
    ("policy source", [f"UPDATE {P} SET source = 'x.yaml' WHERE {V3}"], [P, "{v3}", "source"]),
    (
        "policy added_at_us",
        [f"UPDATE {P} SET added_at_us = added_at_us + 1 WHERE {V3}"],
        [P, "{v3}", "added_at_us"],
    ),
    (
        "policy deleted",
        [f"DELETE FROM {P} WHERE {V3}"],
        [P, "row {v3}", "deleted (logged at entry 3)"],
    ),
    (
        "policy inserted",
        [
            f"INSERT INTO {P} (hash, family, version, effective_at_us, body, source, added_at_us) "
            f"SELECT '{'f' * 64}', 'rogue', version, effective_at_us, body, source, added_at_us "
            f"FROM {P} WHERE {V3}"
        ],
        [P, "row ffffffffffffffff", "matches no logged entry"],
    ),
    # --- tg_tenant_families
    (
        "tenant family",
        [f"UPDATE {TF} SET family = 'lax' WHERE tenant = 'acme'"],
        [TF, "acme", "family"],
    ),
    (
        "tenant renamed",
        [f"UPDATE {TF} SET tenant = 'evil' WHERE tenant = 'acme'"],
        [TF, "acme", "deleted"],
    ),
    (
        "tenant deleted",
        [f"DELETE FROM {TF} WHERE tenant = 'globex'"],
        [TF, "globex", "deleted (logged at entry 6)"],
    ),
    (
        "tenant inserted",
        [f"INSERT INTO {TF} (tenant, family) VALUES ('initech', 'meetco-terms')"],
        [TF, "initech", "matches no logged entry"],
    ),
    # --- tg_settings: every key
    (
        "default_family changed",
        [f"UPDATE {ST} SET value = 'lax' WHERE key = 'default_family'"],
        [ST, "default_family", "value is not what entry 4 logged"],
    ),
    (
        "default_family deleted",
        [f"DELETE FROM {ST} WHERE key = 'default_family'"],
        [ST, "default_family", "deleted"],
    ),
    (
        "audit_origin changed",
        [f"UPDATE {ST} SET value = 'elsewhere' WHERE key = 'audit_origin'"],
        [ST, "audit_origin", "value is not what entry 0 logged"],
    ),
    (
        "setting inserted",
        [f"INSERT INTO {ST} (key, value) VALUES ('allow_all', '1')"],
        [ST, "allow_all", "matches no logged entry"],
    ),
    # --- tg_taxonomy_keys
    (
        "taxonomy description",
        [f"UPDATE {TK} SET description = 'x' WHERE key = 'customer.sticker'"],
        [TK, "customer.sticker (category)", "description"],
    ),
    (
        "taxonomy key",
        [f"UPDATE {TK} SET key = 'service.sticker' WHERE key = 'customer.sticker'"],
        [TK, "customer.sticker (category)", "deleted"],
    ),
    (
        "taxonomy kind",
        [f"UPDATE {TK} SET kind = 'use' WHERE key = 'customer.sticker'"],
        [TK, "customer.sticker (category)", "deleted"],
    ),
    (
        "taxonomy deleted",
        [f"DELETE FROM {TK} WHERE key = 'train.eval'"],
        [TK, "train.eval (use)", "deleted (logged at entry 7)"],
    ),
    (
        "taxonomy inserted",
        [f"INSERT INTO {TK} (key, kind, description) VALUES ('service.x', 'category', 'x')"],
        [TK, "service.x (category)", "matches no logged entry"],
    ),
    # --- tg_consent_events: every column, order, deletion, insertion
    (
        "consent withdrawal deleted",
        [f"DELETE FROM {CE} WHERE {WD}"],
        [CE, "row {withdraw}", "deleted (logged at entry 9)"],
    ),
    (
        "consent id",
        [f"UPDATE {CE} SET id = 'ce_other' WHERE {WD}"],
        [CE, "row {withdraw}", "deleted"],
    ),
    (
        "consent tenant",
        [f"UPDATE {CE} SET tenant = 'globex' WHERE {WD}"],
        [CE, "{withdraw}", "tenant is not what entry 9"],
    ),
    ("consent kind", [f"UPDATE {CE} SET kind = 'grant' WHERE {WD}"], [CE, "{withdraw}", "kind"]),
    (
        "consent subject",
        [f"UPDATE {CE} SET subject = 'eve' WHERE {WD}"],
        [CE, "{withdraw}", "subject"],
    ),
    ("consent role", [f"UPDATE {CE} SET role = 'self' WHERE {WD}"], [CE, "{withdraw}", "role"]),
    (
        "consent at_us",
        [f"UPDATE {CE} SET at_us = at_us + 1 WHERE {WD}"],
        [CE, "{withdraw}", "at_us"],
    ),
    (
        "consent body: a withdrawal made a grant",
        [
            f"UPDATE {CE} SET body = replace(body, '\"withdraw\"', '\"grant\"') WHERE {WD}",
        ],
        [CE, "{withdraw}", "body"],
    ),
    (
        "consent recorded_at_us",
        [f"UPDATE {CE} SET recorded_at_us = recorded_at_us - 1 WHERE {WD}"],
        [CE, "{withdraw}", "recorded_at_us"],
    ),
    (
        "consent seq: order changed",
        [f"UPDATE {CE} SET seq = seq + 100 WHERE id = '{{grant}}'"],
        [CE, "seq", "out of log order"],
    ),
    ("consent inserted", [COPY_CE], [CE, "row ce_forged", "matches no logged entry"]),
    # --- tg_models / tg_model_manifests
    ("model trained_at_us", [f"UPDATE {M} SET trained_at_us = NULL"], [M, "m1", "trained_at_us"]),
    (
        "model registered_at_us",
        [f"UPDATE {M} SET registered_at_us = registered_at_us + 1"],
        [M, "m1", "registered_at_us"],
    ),
    (
        "model deleted",
        [f"DELETE FROM {MM}", f"DELETE FROM {M}"],
        [M, "m1", "deleted (logged at entry 11)"],
    ),
    (
        "model inserted",
        [f"INSERT INTO {M} (name, trained_at_us, registered_at_us) VALUES ('m2', NULL, 1)"],
        [M, "m2", "matches no logged entry"],
    ),
    (
        "manifest path",
        [f"UPDATE {MM} SET path = '/elsewhere' WHERE position = 1"],
        [MM, "m1#1", "path"],
    ),
    (
        "manifest root",
        [f"UPDATE {MM} SET root = '{'0' * 64}' WHERE position = 1"],
        [MM, "m1#1", "root"],
    ),
    (
        "manifest use",
        [f"UPDATE {MM} SET \"use\" = 'analytics.product' WHERE position = 1"],
        [MM, "m1#1", "use"],
    ),
    (
        "manifest at_us",
        [f"UPDATE {MM} SET at_us = at_us + 1 WHERE position = 1"],
        [MM, "m1#1", "at_us"],
    ),
    (
        "manifest records",
        [f"UPDATE {MM} SET records = records + 1 WHERE position = 1"],
        [MM, "m1#1", "records"],
    ),
    (
        "manifest admitted",
        [f"UPDATE {MM} SET admitted = 0 WHERE position = 1"],
        [MM, "m1#1", "admitted"],
    ),
    (
        "manifest position",
        [f"UPDATE {MM} SET position = 7 WHERE position = 1"],
        [MM, "m1#1", "position"],
    ),
    (
        "manifest deleted",
        [f"DELETE FROM {MM} WHERE position = 1"],
        [MM, "m1#1", "deleted (logged at entry 11)"],
    ),
    (
        "manifest inserted",
        [
            f'INSERT INTO {MM} (model, position, path, root, "use", at_us, records, admitted) '
            f'SELECT model, 2, path, root, "use", at_us, records, admitted FROM {MM} WHERE position = 0'
        ],
        [MM, "m1#2", "matches no logged entry"],
    ),
    # --- the log's own columns
    (
        "entry body",
        [f"UPDATE {AE} SET body = (SELECT body FROM {AE} WHERE idx = 8) WHERE idx = 9"],
        ["entry 9", "body does not match its leaf hash"],
    ),
    (
        "entry leaf_hash",
        [f"UPDATE {AE} SET leaf_hash = (SELECT leaf_hash FROM {AE} WHERE idx = 8) WHERE idx = 9"],
        ["entry 9", "body does not match its leaf hash"],
    ),
    (
        "entry kind: a withdrawal hidden from the replay",
        [f"UPDATE {AE} SET kind = 'note' WHERE idx = 9"],
        ["entry 9", "kind column says 'note' but the entry is 'consent.withdraw'"],
    ),
    (
        "entry kind: a plain entry passed off as state",
        [f"UPDATE {AE} SET kind = 'consent.grant' WHERE idx = 12"],
        ["entry 12", "kind column says 'consent.grant'"],
    ),
    ("entry idx", [f"UPDATE {AE} SET idx = 99 WHERE idx = 9"], ["entry 9 is missing"]),
    (
        "entry body nulled without a logged redaction",
        [f"UPDATE {AE} SET body = NULL WHERE idx = 12"],
        ["entry 12", "body is erased but no redaction is logged"],
    ),
    (
        "consent entry nulled without a logged redaction",
        [f"UPDATE {AE} SET body = NULL WHERE idx = 9"],
        ["entry 9", "no redaction is logged"],
    ),
    ("entry deleted", [f"DELETE FROM {AE} WHERE idx = 9"], ["entry 9 is missing"]),
    (
        "entry inserted past the head",
        [
            f"INSERT INTO {AE} (idx, leaf_hash, kind, body) "
            f"SELECT 14, leaf_hash, kind, body FROM {AE} WHERE idx = 13"
        ],
        ["entry 14", "holds the body of entry 13"],
    ),
    (
        "tg_audit_head.size lowered",
        ["UPDATE tg_audit_head SET size = 13"],
        ["log head says 13 entries but 14 are stored"],
    ),
    (
        "tg_audit_head.size raised",
        ["UPDATE tg_audit_head SET size = 15"],
        ["log head says 15 entries but 14 are stored"],
    ),
]


@pytest.mark.parametrize(("attack", "statements", "words"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_every_attack_fails_verify_naming_the_table_and_row(
    state: tuple[Store, dict[str, Any]], attack: str, statements: list[str], words: list[str]
) -> None:
    store, names = state
    sql(store, *(s.format(**names) for s in statements))
    report = store.audit.verify(None)
    assert not report.ok, attack
    for word in words:
        assert word.format(**names) in (report.problem or ""), report.problem


def test_an_untouched_store_verifies(state: tuple[Store, dict[str, Any]]) -> None:
    store, _ = state
    report = store.audit.verify(None)
    assert report.ok and report.size == 14 and report.redacted == []


def test_an_entry_logged_without_its_row_fails(state: tuple[Store, dict[str, Any]]) -> None:
    """A forged withdrawal appended through the log API alone: the table lacks its row."""
    store, _ = state
    entry = store.audit.entry(9)["entry"]
    store.audit.record("consent.withdraw", {**entry["data"], "id": "ce_unbacked"})
    report = store.audit.verify(None)
    assert not report.ok
    assert report.problem == "tg_consent_events row ce_unbacked: deleted (logged at entry 14)"


def test_a_well_formed_entry_inserted_past_the_head_fails(
    state: tuple[Store, dict[str, Any]],
) -> None:
    store, _ = state
    body = canonical_json({"index": 14, "kind": "note", "at": "2026-01-01T00:00:00Z", "data": {}})
    with store.write() as conn:
        conn.execute(
            text(
                f"INSERT INTO {AE} (idx, leaf_hash, kind, body) VALUES (14, :leaf, 'note', :body)"
            ),
            {"leaf": leaf_hash(body), "body": body},
        )
    report = store.audit.verify(None)
    assert not report.ok
    assert "log head says 14 entries but 15 are stored" in (report.problem or "")


# --- redaction ------------------------------------------------------------------------


def test_a_logged_redaction_of_a_consent_entry_verifies_and_keeps_the_decision(
    state: tuple[Store, dict[str, Any]],
) -> None:
    store, names = state
    rec = Record("c", "acme", ("customer.chat",), parse_instant("2023-05-01T00:00:00Z", "t"))
    before = decide(store.context(), rec, "train.first_party", AUG_9)
    logged = store.audit.redact(9)  # alice's withdrawal
    entry = store.audit.entry(logged)["entry"]
    assert entry["kind"] == "audit.redacted"
    assert entry["data"]["index"] == 9 and entry["data"]["kind"] == "consent.withdraw"
    withdrawal = next(e for e in store.consent_events() if e.kind == "withdraw")
    assert entry["data"]["data_digest"] == data_digest(
        {"id": names["withdraw"], **withdrawal.canonical()}
    )
    report = store.audit.verify(None)
    assert report.ok, report.problem
    assert report.redacted == [9]
    after = decide(store.context(), rec, "train.first_party", AUG_9)
    assert after.to_json() == before.to_json()
    assert not before.allowed  # the withdrawal still counts


REDACTED_ATTACKS: list[tuple[str, list[str], list[str]]] = [
    (
        "the row of an erased consent entry deleted",
        [f"DELETE FROM {CE} WHERE {WD}"],
        [CE, "row of redacted entry 9", "deleted"],
    ),
    (
        "the row of an erased consent entry changed",
        [f"UPDATE {CE} SET body = replace(body, '\"withdraw\"', '\"grant\"') WHERE {WD}"],
        [CE, "row {withdraw}", "matches no logged entry"],
    ),
    (
        "the row of an erased consent entry: a denormalized column changed",
        [f"UPDATE {CE} SET subject = 'eve' WHERE {WD}"],
        [CE, "{withdraw}", "subject is not what entry 9 logged"],
    ),
    (
        "an erased body restored",
        [f"UPDATE {AE} SET body = (SELECT body FROM {AE} WHERE idx = 8) WHERE idx = 9"],
        ["entry 9", "body does not match its leaf hash"],
    ),
    (
        "the redaction entry erased too (the erasure it logged is then unaccounted for)",
        [f"UPDATE {AE} SET body = NULL WHERE idx = 14"],
        ["entry 9", "body is erased but no redaction is logged"],
    ),
    (
        "the erased row's kind column changed",
        [f"UPDATE {AE} SET kind = 'note' WHERE idx = 9"],
        ["entry 9", "kind column says 'note' but the redaction at entry 14 logged"],
    ),
    (
        "the erased row's leaf hash changed",
        [f"UPDATE {AE} SET leaf_hash = (SELECT leaf_hash FROM {AE} WHERE idx = 8) WHERE idx = 9"],
        ["entry 9", "leaf hash is not the one the redaction at entry 14 logged"],
    ),
]


@pytest.mark.parametrize(
    ("attack", "statements", "words"), REDACTED_ATTACKS, ids=[a[0] for a in REDACTED_ATTACKS]
)
def test_attacks_around_a_redaction_fail_verify(
    state: tuple[Store, dict[str, Any]], attack: str, statements: list[str], words: list[str]
) -> None:
    store, names = state
    assert store.audit.redact(9) == 14
    sql(store, *(s.format(**names) for s in statements))
    report = store.audit.verify(None)
    assert not report.ok, attack
    for word in words:
        assert word.format(**names) in (report.problem or ""), report.problem


def test_a_redaction_that_holds_a_body_again_fails(state: tuple[Store, dict[str, Any]]) -> None:
    """The erased body put back exactly (leaf matches): the erasure was undone."""
    store, _ = state
    with store.read() as conn:
        body = conn.execute(text(f"SELECT body FROM {AE} WHERE idx = 12")).scalar_one()
    store.audit.redact(12)
    with store.write() as conn:
        conn.execute(text(f"UPDATE {AE} SET body = :b WHERE idx = 12"), {"b": body})
    report = store.audit.verify(None)
    assert not report.ok
    assert report.problem == "entry 12: logged as redacted at entry 14 but holds a body"


@pytest.mark.parametrize(
    ("index", "words"),
    [
        (14, "a redaction entry cannot itself be redacted"),
        (3, "a policy.added entry sets state that decisions read"),
        (0, "a log.origin entry sets state"),
        (5, "a tenant.family entry sets state"),
    ],
)
def test_what_cannot_be_redacted_is_refused(
    state: tuple[Store, dict[str, Any]], index: int, words: str
) -> None:
    store, _ = state
    store.audit.redact(12)  # entry 14 is its redaction
    with pytest.raises(ConflictError, match=words):
        store.audit.redact(index)
    assert store.audit.verify(None).ok


def test_a_second_redaction_of_one_entry_is_refused(state: tuple[Store, dict[str, Any]]) -> None:
    store, _ = state
    store.audit.redact(12)
    with pytest.raises(ConflictError, match="already redacted"):
        store.audit.redact(12)


# --- stores made before the origin was logged ----------------------------------------


def test_a_store_made_before_the_origin_was_logged_is_told_to_init(tmp_path: Path) -> None:
    db = str(tmp_path / "old.db")
    store = Store(db)
    store.init()
    store.audit.record("note", {"who": "carol"})
    # What an older store looks like: the origin setting, no log.origin entry.
    with store.write() as conn:
        conn.execute(text(f"DELETE FROM {AE}"))
        conn.execute(text("UPDATE tg_audit_head SET size = 0"))
    store.audit.record("note", {"who": "carol"})
    report = store.audit.verify(None)
    assert not report.ok and "run `trainguard init` to log it" in (report.problem or "")
    store.init()  # logs the origin it already had
    assert store.audit.entry(1)["kind"] == "log.origin"
    assert store.audit.verify(None).ok
    store.init()  # and only once
    assert store.audit.size() == 2


# --- the CLI --------------------------------------------------------------------------


def test_cli_names_the_table_and_row_and_exits_1(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    store = Store(db)
    store.init()
    sql(store, f"UPDATE {ST} SET value = 'elsewhere' WHERE key = 'audit_origin'")
    result = CliRunner().invoke(app, ["--db", db, "audit", "verify"])
    assert result.exit_code == 1
    assert result.stdout.strip() == (
        "FAILED: tg_settings row audit_origin: value is not what entry 0 logged"
    )


def test_cli_refuses_to_redact_state_with_exit_2(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    Store(db).init()
    result = CliRunner().invoke(app, ["--db", db, "audit", "redact", "0"])
    assert result.exit_code == 2
    assert "audit entry 0 (log.origin)" in result.stderr


# --- a property: any import verifies, and losing any one row is named ------------------


@settings(max_examples=12)
@given(
    events=st.lists(
        st.tuples(
            st.sampled_from(["alice", "bob", "carol"]),
            st.sampled_from(["grant", "withdraw"]),
            st.integers(min_value=0, max_value=59),
        ),
        min_size=1,
        max_size=12,
        unique=True,
    ),
    batch=st.integers(min_value=1, max_value=5),
    lost=st.integers(min_value=0),
)
def test_any_import_verifies_and_any_lost_row_is_named(
    events: list[tuple[str, str, int]], batch: int, lost: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        from trainguard.demo.run import copy_policy_files

        store = Store(str(Path(tmp) / "p.db"))
        store.init()
        v2 = copy_policy_files(Path(tmp))[1]
        store.add_policies([(load_policy_file(v2), str(v2))])
        made = [event(store, kind, who, "self", minute) for who, kind, minute in events]
        for start in range(0, len(made), batch):
            # Withdrawals may come first here: what is checked is the log, not the ledger.
            store.add_consent_events(made[start : start + batch], allow_unmatched=True)
        assert store.audit.verify(None).ok
        gone = made[lost % len(made)].event_id
        sql(store, f"DELETE FROM {CE} WHERE id = '{gone}'")
        report = store.audit.verify(None)
        assert not report.ok
        assert report.problem is not None and report.problem.startswith(f"{CE} row {gone}: deleted")
        store.engine.dispose()


def test_state_false_checks_the_entries_alone(store: Store) -> None:
    """The floor the bench compares against: entries and checkpoints, no tables."""
    sql(store, f"UPDATE {ST} SET value = 'elsewhere' WHERE key = 'audit_origin'")
    assert store.audit.verify(None, state=False).ok
    assert not store.audit.verify(None).ok


def test_the_pinned_key_settings_are_held_to_the_key_entries(store: Store) -> None:
    """audit_key / audit_max_unsigned are the writer's copy of the last
    audit.key_pinned or audit.key_rotated entry: that entry decides both."""
    first, second = Signer.generate("test-log"), Signer.generate("test-log")
    store.audit.pin_key(first, 100)
    store.audit.rotate_key(first, second, 50)
    assert store.audit.verify(None).ok
    rotation = next(
        i for i in range(store.audit.size()) if store.audit.entry(i)["kind"] == "audit.key_rotated"
    )
    sql(store, f"UPDATE {ST} SET value = '{first.verifier.text}' WHERE key = 'audit_key'")
    report = store.audit.verify(None)
    assert report.problem == f"tg_settings row audit_key: value is not what entry {rotation} logged"
    sql(store, f"UPDATE {ST} SET value = '{second.verifier.text}' WHERE key = 'audit_key'")
    sql(store, f"UPDATE {ST} SET value = '1000' WHERE key = 'audit_max_unsigned'")
    report = store.audit.verify(None)
    assert report.problem == (
        f"tg_settings row audit_max_unsigned: value is not what entry {rotation} logged"
    )
    with pytest.raises(InputError, match="cannot be erased"):
        store.audit.redact(rotation)


# --- a table rebuilt without its constraints --------------------------------------------
# Someone with the database file can rebuild a table as they like: without the key that
# kept its rows unique, without the column types that kept text text, or as a view.


def rebuilt(table: str, columns: str = "") -> list[str]:
    """Statements that rebuild ``table`` with the same rows and no constraints (and, with
    ``columns``, those columns without a type: SQLite then keeps any value as given)."""
    create = f"CREATE TABLE {table}_new ({columns})" if columns else f"CREATE TABLE {table}_new AS "
    copy = (
        [f"INSERT INTO {table}_new SELECT * FROM {table}"]
        if columns
        else [create + f"SELECT * FROM {table}"]
    )
    return [
        *([create] if columns else []),
        *copy,
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_new RENAME TO {table}",
    ]


SEQ_FIRST = f"(SELECT min(seq) - 1 FROM {CE})"
DUPLICATES: list[tuple[str, list[str], str]] = [
    (
        # The decision reads the first row (WHERE key = ?), the check read the last.
        "a second default family, read first",
        [
            *rebuilt(ST),
            f"CREATE TABLE st_copy AS SELECT * FROM {ST}",
            f"DELETE FROM {ST}",
            f"INSERT INTO {ST} VALUES ('default_family', 'elsewhere')",
            f"INSERT INTO {ST} SELECT * FROM st_copy",
            "DROP TABLE st_copy",
        ],
        f"{ST} row 'default_family': stored twice",
    ),
    (
        "a second family for a tenant",
        [*rebuilt(TF), f"INSERT INTO {TF} VALUES ('acme', 'meetco-terms')"],
        f"{TF} row 'acme': stored twice",
    ),
    (
        "a second taxonomy key",
        [*rebuilt(TK), f"INSERT INTO {TK} SELECT * FROM {TK}"],
        f"{TK} row 'customer.sticker'/'category': stored twice",
    ),
    (
        # Ordered before the logged row, so the logged row was the one compared.
        "a consent event under a logged event's id, ordered before it",
        [
            *rebuilt(CE),
            f"INSERT INTO {CE} SELECT {SEQ_FIRST}, id, tenant, kind, 'mallory', role, at_us, "
            f"replace(body, 'bob', 'mallory'), recorded_at_us FROM {CE} WHERE id = '{{bob}}'",
        ],
        f"{CE} row '{{bob}}': stored twice",
    ),
]


@pytest.mark.parametrize(
    ("attack", "statements", "words"), DUPLICATES, ids=[a[0] for a in DUPLICATES]
)
def test_a_key_stored_twice_fails_verify(
    state: tuple[Store, dict[str, Any]], attack: str, statements: list[str], words: str
) -> None:
    store, names = state
    sql(store, *(s.format(**names) for s in statements))
    report = store.audit.verify(None)
    assert not report.ok, attack
    assert report.problem == words.format(**names) + " (the schema keeps its key unique)"


def test_a_tenant_stored_as_a_number_fails_verify(tmp_path: Path) -> None:
    """In a rebuilt table without column types SQLite keeps the integer 123 as given: to
    the code that reads it, not the tenant '123' the log assigned, though it prints alike."""
    store = Store(str(tmp_path / "t.db"))
    store.init()
    from trainguard.demo.run import copy_policy_files

    files = copy_policy_files(tmp_path)
    store.add_policies([(load_policy_file(f), str(f)) for f in files])
    store.assign_tenant("123", "meetco-terms")
    assert store.audit.verify(None).ok
    sql(store, *rebuilt(TF, "tenant, family"), f"UPDATE {TF} SET tenant = 123")
    report = store.audit.verify(None)
    assert report.problem == f"{TF} row 123: tenant is int, not text"
    store.engine.dispose()


def test_a_view_in_place_of_a_state_table_fails_verify(state: tuple[Store, dict[str, Any]]) -> None:
    """A view can give a decision rows it gives this check no longer (it may read the
    log's size, or the clock); the store creates none."""
    store, _ = state
    sql(store, f"ALTER TABLE {TF} RENAME TO tf_rows", f"CREATE VIEW {TF} AS SELECT * FROM tf_rows")
    report = store.audit.verify(None)
    assert report.problem is not None
    assert report.problem.startswith(f"schema: view '{TF}' is not the store's")


def test_a_trigger_fails_verify(any_store: Store) -> None:
    if any_store.is_sqlite:
        sql(any_store, f"CREATE TRIGGER tg_quiet AFTER INSERT ON {AE} BEGIN SELECT 1; END")
    else:
        sql(
            any_store,
            "CREATE FUNCTION tg_quiet_fn() RETURNS trigger LANGUAGE plpgsql "
            "AS 'BEGIN RETURN NEW; END'",
            f"CREATE TRIGGER tg_quiet AFTER INSERT ON {AE} "
            "FOR EACH ROW EXECUTE FUNCTION tg_quiet_fn()",
        )
    report = any_store.audit.verify(None)
    assert report.problem is not None
    assert report.problem.startswith("schema: trigger 'tg_quiet' is not the store's")


def test_a_rule_fails_verify(any_store: Store) -> None:
    """PostgreSQL's rules rewrite statements: one can drop a table's writes unseen."""
    if any_store.is_sqlite:
        pytest.skip("SQLite has no rules")
    sql(any_store, f"CREATE RULE tg_drop AS ON INSERT TO {TF} DO INSTEAD NOTHING")
    report = any_store.audit.verify(None)
    assert report.problem is not None
    assert report.problem.startswith("schema: rule 'tg_drop' is not the store's")
