"""`audit verify` holds the HTTP service's API keys and the notices people were shown
to the log: a table of attacks, as in test_state, on both backends and both readers.

A key row inserted, un-revoked or given another secret hash would open the
service; a notice event inserted would claim someone was shown terms they never
saw. Every column, deletions and insertions must fail, naming the table and row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from trainguard.app.apikeys import create_key, revoke_key, secret_hash
from trainguard.audit.state import data_digest
from trainguard.decision.policy import load_policy_file
from trainguard.errors import ConflictError
from trainguard.explain.notice_events import notice_events, record_notice_event
from trainguard.explain.notices import build_notice
from trainguard.store import Store

AUG_12 = datetime(2023, 8, 12, 9, tzinfo=UTC)
K, N, NE = "tg_api_keys", "tg_notices", "tg_notice_events"


@pytest.fixture(params=["arrow", "driver"])
def service_state(
    request: pytest.FixtureRequest,
    any_store: Store,
    policy_files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Store, dict[str, Any]]]:
    """Entries: 0 origin; 1-3 policies; 4 operator key; 5 acme admin key; 6 its
    revocation; 7 the notice stored; 8 served to alice; 9 acknowledged by alice;
    10 served to bob; 11 the admins' notice stored; 12 served to carol."""
    if request.param == "driver":
        monkeypatch.setattr("trainguard.audit.log._arrow_reader_available", lambda: False)
    elif any_store.engine.url.get_backend_name() != "sqlite":
        pytest.skip("the Arrow reader is for SQLite files")
    s = any_store
    s.add_policies(
        [(load_policy_file(policy_files[v]), str(policy_files[v])) for v in ("v1", "v2", "v3")]
    )
    operator, _ = create_key(s, "operator", None, "platform ops")
    admin, _ = create_key(s, "admin", "acme", "acme admin")
    revoke_key(s, admin.id)
    version = s.policy_set().resolve("meetco-terms@2023-08-11").version
    nid = build_notice(version, s.taxonomy(), "participant").id
    served, _ = record_notice_event(s, nid, "served", "acme", "alice", AUG_12)
    acked, _ = record_notice_event(
        s, nid, "acknowledged", "acme", "alice", AUG_12.replace(minute=5)
    )
    bob, _ = record_notice_event(s, nid, "served", "acme", "bob", AUG_12)
    other = build_notice(version, s.taxonomy(), "admin").id
    record_notice_event(s, other, "served", "acme", "carol", AUG_12)
    names = {
        "op": operator.id,
        "rv": admin.id,
        "notice": nid,
        "served": served.id,
        "acked": acked.id,
        "bob": bob.id,
        "other": other,
    }
    report = s.audit.verify(None)
    assert report.ok and report.size == 13, report.problem
    yield s, names


def sql(store: Store, *statements: str) -> None:
    with store.write() as conn:
        for statement in statements:
            conn.execute(text(statement))


OP, RV, NID, SV = "id = '{op}'", "id = '{rv}'", "id = '{notice}'", "id = '{served}'"
KNOWN_SECRET = secret_hash("a secret the attacker knows")

ATTACKS: list[tuple[str, list[str], list[str]]] = [
    # --- tg_api_keys: every column, deletion, insertion
    (
        "key secret_hash swapped for one whose secret the attacker knows",
        [f"UPDATE {K} SET secret_hash = '{KNOWN_SECRET}' WHERE {OP}"],
        [K, "row {op}", "secret_hash is not what entry 4 logged"],
    ),
    (
        "key un-revoked",
        [f"UPDATE {K} SET revoked_at_us = NULL WHERE {RV}"],
        [K, "row {rv}", "revoked_at_us is not what entry 6 logged"],
    ),
    (
        "key revocation moved later",
        [f"UPDATE {K} SET revoked_at_us = revoked_at_us + 1 WHERE {RV}"],
        [K, "row {rv}", "revoked_at_us"],
    ),
    (
        "key revoked without an entry",
        [f"UPDATE {K} SET revoked_at_us = created_at_us WHERE {OP}"],
        [K, "row {op}", "revoked_at_us is not what entry 4 logged"],
    ),
    ("key tenant", [f"UPDATE {K} SET tenant = 'globex' WHERE {RV}"], [K, "row {rv}", "tenant"]),
    ("key role raised", [f"UPDATE {K} SET role = 'operator' WHERE {RV}"], [K, "{rv}", "role"]),
    ("key name", [f"UPDATE {K} SET name = 'renamed' WHERE {OP}"], [K, "row {op}", "name"]),
    (
        "key created_at_us",
        [f"UPDATE {K} SET created_at_us = created_at_us - 1 WHERE {OP}"],
        [K, "row {op}", "created_at_us"],
    ),
    ("key id", [f"UPDATE {K} SET id = '00000000deadbeef' WHERE {OP}"], [K, "row {op}", "deleted"]),
    (
        "key deleted",
        [f"DELETE FROM {K} WHERE {OP}"],
        [K, "row {op}", "deleted (logged at entry 4)"],
    ),
    (
        "key inserted",
        [
            f"INSERT INTO {K} (id, secret_hash, tenant, role, name, created_at_us, revoked_at_us) "
            f"VALUES ('00000000deadbeef', '{KNOWN_SECRET}', NULL, 'operator', 'x', 1, NULL)"
        ],
        [K, "row 00000000deadbeef", "matches no logged entry"],
    ),
    # --- tg_notices
    ("notice hash", [f"UPDATE {N} SET hash = '{'0' * 64}' WHERE {NID}"], [N, "{notice}", "hash"]),
    (
        "notice policy_version",
        [
            f"UPDATE {N} SET policy_version = (SELECT min(hash) FROM tg_policy_versions "
            f"WHERE hash <> {N}.policy_version) WHERE {NID}"
        ],
        [N, "{notice}", "policy_version"],
    ),
    (
        "notice audience",
        [f"UPDATE {N} SET audience = 'admin' WHERE {NID}"],
        [N, "row {notice}", "audience is not what entry 7 logged"],
    ),
    (
        "notice body: a never made a may",
        [f"UPDATE {N} SET body = replace(body, '\"never\"', '\"used_for\"') WHERE {NID}"],
        [N, "row {notice}", "body"],
    ),
    (
        "notice stored_at_us",
        [f"UPDATE {N} SET stored_at_us = stored_at_us + 1 WHERE {NID}"],
        [N, "{notice}", "stored_at_us"],
    ),
    (
        "notice id",
        [
            f"DELETE FROM {NE} WHERE notice_id = '{{notice}}'",
            f"UPDATE {N} SET id = 'forged' WHERE {NID}",
        ],
        [N, "{notice}", "deleted"],
    ),
    (
        "notice deleted",
        [f"DELETE FROM {NE} WHERE notice_id = '{{notice}}'", f"DELETE FROM {N} WHERE {NID}"],
        [N, "row {notice}", "deleted (logged at entry 7)"],
    ),
    (
        "notice inserted",
        [
            f"INSERT INTO {N} (id, hash, policy_version, audience, body, stored_at_us) "
            f"SELECT 'forged', hash, policy_version, 'admin', body, stored_at_us FROM {N} WHERE {NID}"
        ],
        [N, "row forged", "matches no logged entry"],
    ),
    # --- tg_notice_events: every column, order, deletion, insertion
    (
        "notice event notice_id",
        [f"UPDATE {NE} SET notice_id = '{{other}}' WHERE {SV}"],
        [NE, "row {served}", "notice_id is not what entry 8 logged"],
    ),
    (
        "notice event: served made acknowledged",
        [f"UPDATE {NE} SET kind = 'acknowledged' WHERE {SV}"],
        [NE, "{served}", "kind"],
    ),
    ("notice event tenant", [f"UPDATE {NE} SET tenant = 'globex' WHERE {SV}"], [NE, "tenant"]),
    (
        "notice event subject",
        [f"UPDATE {NE} SET subject = 'eve' WHERE {SV}"],
        [NE, "{served}", "subject"],
    ),
    ("notice event at_us", [f"UPDATE {NE} SET at_us = at_us - 1 WHERE {SV}"], [NE, "at_us"]),
    (
        "notice event recorded_at_us",
        [f"UPDATE {NE} SET recorded_at_us = recorded_at_us + 1 WHERE {SV}"],
        [NE, "{served}", "recorded_at_us"],
    ),
    ("notice event id", [f"UPDATE {NE} SET id = 'nev-x' WHERE {SV}"], [NE, "{served}", "deleted"]),
    (
        "notice event seq: order changed",
        [f"UPDATE {NE} SET seq = seq + 100 WHERE {SV}"],
        [NE, "row {acked}", "out of log order (entry 9)"],
    ),
    (
        "notice event deleted",
        [f"DELETE FROM {NE} WHERE id = '{{bob}}'"],
        [NE, "row {bob}", "deleted (logged at entry 10)"],
    ),
    (
        "notice event inserted",
        [
            f"INSERT INTO {NE} (id, notice_id, kind, tenant, subject, at_us, recorded_at_us) "
            f"SELECT 'nev-forged', notice_id, kind, tenant, 'mallory', at_us, recorded_at_us "
            f"FROM {NE} WHERE {SV}"
        ],
        [NE, "row nev-forged", "matches no logged entry"],
    ),
]


@pytest.mark.parametrize(("attack", "statements", "words"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_every_attack_fails_verify_naming_the_table_and_row(
    service_state: tuple[Store, dict[str, Any]],
    attack: str,
    statements: list[str],
    words: list[str],
) -> None:
    store, names = service_state
    sql(store, *(s.format(**names) for s in statements))
    report = store.audit.verify(None)
    assert not report.ok, attack
    for word in words:
        assert word.format(**names) in (report.problem or ""), report.problem


def test_key_entries_carry_every_column_but_the_secret_and_the_name(
    service_state: tuple[Store, dict[str, Any]],
) -> None:
    store, names = service_state
    created = store.audit.entry(4)["entry"]["data"]
    with store.read() as conn:
        row = conn.execute(text(f"SELECT * FROM {K} WHERE id = '{names['op']}'")).one()
    assert created["secret_hash"] == row.secret_hash
    assert created["name_sha256"] == hashlib.sha256(b"platform ops").hexdigest()
    assert "name" not in created and "platform ops" not in str(store.audit.entry(4))
    revoked = store.audit.entry(6)["entry"]
    assert revoked["kind"] == "apikey.revoked" and revoked["data"]["revoked_at"] is not None


def test_a_key_logged_before_entries_carried_its_hash_is_named_until_revoked(
    store: Store,
) -> None:
    """Keys created before their entries carried every column: verify says what to do,
    and revoking the key (whose entry carries the whole row) settles it."""
    key, _ = create_key(store, "operator", None, "ops")
    old = store.audit.entry(store.audit.size() - 1)["entry"]["data"]
    del old["secret_hash"], old["name_sha256"]
    store.audit.record("apikey.created", old)  # the last entry for the key now lacks them
    report = store.audit.verify(None)
    assert report.problem == (
        f"{K} row {key.id}: entry 2 does not log the secret's hash "
        "(a key made before keys were logged in full: revoke it and create another)"
    )
    revoke_key(store, key.id)
    assert store.audit.verify(None).ok


# --- a notice event's entry erased (it names a person) ---------------------------------


def test_a_redacted_notice_event_verifies_and_its_row_stays(
    service_state: tuple[Store, dict[str, Any]],
) -> None:
    store, names = service_state
    served = next(e for e in notice_events(store) if e.id == names["served"])
    logged = store.audit.redact(8)
    redaction = store.audit.entry(logged)["entry"]["data"]
    assert redaction["data_digest"] == data_digest(served.to_json())
    report = store.audit.verify(None)
    assert report.ok and report.redacted == [8], report.problem


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        (f"DELETE FROM {NE} WHERE {SV}", [NE, "row of redacted entry 8", "deleted"]),
        (f"UPDATE {NE} SET subject = 'eve' WHERE {SV}", [NE, "row {served}", "matches no logged"]),
        (f"UPDATE {NE} SET seq = seq + 100 WHERE {SV}", [NE, "out of log order"]),
    ],
)
def test_the_row_of_a_redacted_notice_event_is_held_to_its_digest(
    service_state: tuple[Store, dict[str, Any]], statement: str, words: list[str]
) -> None:
    store, names = service_state
    store.audit.redact(8)
    sql(store, statement.format(**names))
    report = store.audit.verify(None)
    assert not report.ok
    for word in words:
        assert word.format(**names) in (report.problem or ""), report.problem


@pytest.mark.parametrize(("index", "kind"), [(4, "apikey.created"), (7, "notice.stored")])
def test_key_and_notice_entries_cannot_be_redacted(
    service_state: tuple[Store, dict[str, Any]], index: int, kind: str
) -> None:
    store, _ = service_state
    with pytest.raises(ConflictError, match=f"a {kind} entry sets state"):
        store.audit.redact(index)
