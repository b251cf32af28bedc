"""A decision on a SQLite store without SQLAlchemy (trainguard.store.lite) leaves
the very rows the store's own path leaves, keeps the log verifiable when the
two paths take turns or run at once, and steps aside for any store it does not
know, having written nothing."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trainguard.app.access import Principal
from trainguard.app.decisions import decide_and_log, decide_on_sqlite
from trainguard.audit.entry import entry_rows, insert_sql, move_head_sql
from trainguard.cli import app
from trainguard.decision.consent import ConsentEvent
from trainguard.decision.decide import Record
from trainguard.decision.policy import load_policy_file
from trainguard.demo.run import copy_policy_files
from trainguard.store import Store
from trainguard.store.lite import KNOWN_REVISION, LiteStore, Unusual, sqlite_path

MIGRATIONS = Path(__file__).parents[2] / "src/trainguard/store/migrations/versions"
LOCAL = Principal.local()
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # the entries' time, the same on both paths
TENANTS = ["acme", "globex", "initech"]  # assigned, with consent on record; under the default
OTHER_TERMS = """
family: other-terms
version: "1"
effective_at: 2023-01-01T00:00:00Z
title: Analytics only
default: deny
rules:
  - id: analytics
    categories: ["*"]
    uses: ["analytics.product"]
    effect: allow
"""
CATEGORIES = ["customer.chat", "customer.audio", "customer.poll", "service.telemetry", "x.y"]
USES = ["train.first_party", "infer.feature", "analytics.product", "train.nowhere"]
SUBJECTS = ["alice", "bob"]


def make_store(path: Path, policies: Path) -> Store:
    """Three versions of one family's terms, two tenants assigned to it, another
    family as the default, a taxonomy extension, and grants and withdrawals of the
    two tenants."""
    store = Store(str(path))
    store.init()
    files = copy_policy_files(policies)[:3]
    other = policies / "other.yaml"
    other.write_text(OTHER_TERMS)
    store.add_policies([(load_policy_file(f), str(f)) for f in [*files, other]])
    store.set_default_family("other-terms")
    store.assign_tenant("acme", "meetco-terms")
    store.assign_tenant("globex", "meetco-terms")
    store.extend_taxonomy({"customer.poll": "Answers to polls run in meetings."}, {})
    v2, v3 = (store.policy_set().resolve(v).hash for v in ("2023-08-07", "2023-08-11"))

    def event(tenant: str, kind: str, day: int, **fields: Any) -> ConsentEvent:
        base: dict[str, Any] = {
            "tenant": tenant,
            "kind": kind,
            "subject": "admin",
            "role": "account_admin",
            "categories": ("customer.*",),
            "uses": ("train.*",),
            "mode": "implied" if kind == "grant" else None,
            "policy_version": v2,
            "at": datetime(2023, 8, day, tzinfo=UTC),
        }
        return ConsentEvent(**{**base, **fields})

    store.add_consent_events(
        [
            event("acme", "grant", 8),
            event("globex", "grant", 8),
            event("globex", "withdraw", 9),
            event("acme", "grant", 12, uses=("infer.feature",), mode="explicit", policy_version=v3),
            event(
                "acme",
                "grant",
                12,
                role="self",
                subject="alice",
                uses=("infer.feature",),
                mode="explicit",
                policy_version=v3,
            ),
        ]
    )
    return store


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lite")
    (folder / "policies").mkdir()
    store = make_store(folder / "template.db", folder / "policies")
    store.engine.dispose()
    return folder / "template.db"


def copy_of(template: Path, path: Path) -> Path:
    """A copy of the store, WAL and all (SQLite's backup, not a file copy)."""
    path.unlink(missing_ok=True)
    source, target = sqlite3.connect(template), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return path


def rows_of(path: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        entries = conn.execute(
            "SELECT idx, leaf_hash, kind, body, redacted_at_us FROM tg_audit_entries ORDER BY idx"
        ).fetchall()
        head = conn.execute("SELECT id, size, signed_size FROM tg_audit_head").fetchall()
    finally:
        conn.close()
    return entries, head


def full_path(path: Path, record: Record, use: str, at: datetime | None) -> Any:
    store = Store(str(path))
    try:
        return decide_and_log(LOCAL, store.context(), record, use, at, store.audit.record)
    finally:
        store.engine.dispose()


@st.composite
def asked(draw: st.DrawFn) -> tuple[Record, str, datetime]:
    day = datetime(2023, 1, 1, tzinfo=UTC)
    record = Record(
        id=draw(st.sampled_from(["-", "chat-1", "mtg/2023/ü"])),
        tenant=draw(st.sampled_from(TENANTS)),
        categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=2))),
        collected_at=day + timedelta(days=draw(st.integers(0, 400))),
        subjects=tuple(draw(st.lists(st.sampled_from(SUBJECTS), max_size=2))),
    )
    at = day + timedelta(days=draw(st.integers(0, 500)), seconds=draw(st.integers(0, 86_399)))
    return record, draw(st.sampled_from(USES)), at


@settings(max_examples=40)
@given(question=asked())
def test_a_decision_leaves_the_same_rows_on_either_path(
    template: Path, question: tuple[Record, str, datetime]
) -> None:
    record, use, at = question
    folder = template.parent
    lite_db, full_db = copy_of(template, folder / "a.db"), copy_of(template, folder / "b.db")
    with mock.patch("trainguard.audit.entry.now_utc", return_value=NOW):
        lite = decide_on_sqlite(LOCAL, str(lite_db), record, use, at)
        full = full_path(full_db, record, use, at)
    assert lite is not None, "the store is one the SQLite path knows"
    assert lite[0].to_json() == full[0].to_json() and lite[1] == full[1]
    assert rows_of(lite_db) == rows_of(full_db)


def test_the_log_verifies_after_both_paths_take_turns(template: Path, tmp_path: Path) -> None:
    db = copy_of(template, tmp_path / "mixed.db")
    store = Store(str(db))
    size = store.audit.size()
    record = Record("r", "acme", ("customer.chat",), datetime(2023, 9, 1, tzinfo=UTC))
    for i in range(6):
        if i % 2:
            decide_and_log(
                LOCAL, store.context(), record, "train.first_party", None, store.audit.record
            )
        else:
            assert decide_on_sqlite(LOCAL, str(db), record, "train.first_party", None) is not None
        if i == 3:  # state logged between decisions: the SQLite path reads it
            store.assign_tenant("acme", "other-terms")
    report = store.audit.verify()
    assert report.ok, report.problem
    assert report.size == size + 7
    kinds = [store.audit.entry(i)["kind"] for i in range(size, size + 7)]
    assert kinds == ["decision"] * 4 + ["tenant.family"] + ["decision"] * 2


def test_concurrent_writers_on_both_paths_leave_a_gap_free_log(
    template: Path, tmp_path: Path
) -> None:
    db = copy_of(template, tmp_path / "busy.db")
    store = Store(str(db))
    size = store.audit.size()
    record = Record("r", "globex", ("customer.audio",), datetime(2023, 9, 1, tzinfo=UTC))
    indexes: list[int] = []
    errors: list[BaseException] = []

    def writer(lite: bool) -> None:
        try:
            for _ in range(8):
                if lite:
                    done = decide_on_sqlite(LOCAL, str(db), record, "infer.feature", None)
                    assert done is not None
                else:
                    done = decide_and_log(
                        LOCAL, store.context(), record, "infer.feature", None, store.audit.record
                    )
                indexes.append(done[1])
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(indexes) == list(range(size, size + 32))
    report = store.audit.verify()
    assert report.ok and report.size == size + 32, report.problem


def test_a_decision_is_made_on_the_state_logged_before_it(template: Path, tmp_path: Path) -> None:
    """Another process assigns initech a family while a decision for initech waits for
    the append lock: the decision, logged after the assignment, is made under it (it
    once read its state before waiting, and was logged after a change it never saw)."""
    db = copy_of(template, tmp_path / "race.db")
    record = Record("r", "initech", ("customer.chat",), datetime(2023, 9, 1, tzinfo=UTC))
    done: list[Any] = []
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the assignment, as the store writes it
    other.execute("INSERT INTO tg_tenant_families VALUES ('initech', 'meetco-terms')")
    [(assigned,)] = other.execute("SELECT size FROM tg_audit_head").fetchall()
    entry = ("tenant.family", {"tenant": "initech", "family": "meetco-terms"})
    other.executemany(insert_sql("?"), entry_rows(assigned, [entry]))
    other.execute(move_head_sql("?"), (assigned + 1,))
    decider = threading.Thread(
        target=lambda: done.append(
            decide_on_sqlite(LOCAL, str(db), record, "analytics.product", None)
        )
    )
    decider.start()
    decider.join(timeout=0.5)  # it waits on the lock this transaction holds
    other.execute("COMMIT")
    other.close()
    decider.join()
    decision, index = done[0]
    assert index == assigned + 1
    assert decision.to_json()["policy_at_use"]["family"] == "meetco-terms"
    report = Store(str(db)).audit.verify()
    assert report.ok, report.problem


def set_revision(db: Path, revision: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()


@pytest.mark.parametrize("revision", ["0004", "0099"])
def test_a_store_at_another_revision_takes_the_full_path(
    template: Path, tmp_path: Path, revision: str
) -> None:
    db = copy_of(template, tmp_path / "other.db")
    set_revision(db, revision)
    with pytest.raises(Unusual, match="schema revision"):
        LiteStore.open(str(db))
    record = Record("r", "acme", ("customer.chat",), datetime(2023, 9, 1, tzinfo=UTC))
    before = rows_of(db)
    assert decide_on_sqlite(LOCAL, str(db), record, "train.first_party", None) is None
    assert rows_of(db) == before  # nothing written
    # The command still decides, through the store.
    args = ["--tenant", "acme", "--category", "customer.chat", "--use", "train.first_party"]
    result = CliRunner().invoke(
        app, ["--db", str(db), "decide", *args, "--collected-at", "2023-09-01"]
    )
    assert result.exit_code == 1, result.stderr
    assert len(rows_of(db)[0]) == len(before[0]) + 1


def test_a_missing_store_is_never_created(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    with pytest.raises(Unusual):
        LiteStore.open(str(db))
    assert not db.exists()
    args = ["--tenant", "acme", "--category", "customer.chat", "--use", "train.first_party"]
    result = CliRunner().invoke(
        app, ["--db", str(db), "decide", *args, "--collected-at", "2023-09-01"]
    )
    assert result.exit_code == 2
    assert "not initialized (run `trainguard init`)" in result.stderr


def test_a_failed_append_writes_nothing(template: Path, tmp_path: Path) -> None:
    db = copy_of(template, tmp_path / "refusing.db")
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON tg_audit_entries BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    conn.commit()
    conn.close()
    before = rows_of(db)
    with LiteStore.open(str(db)) as lite, pytest.raises(Unusual, match="no"):
        lite.record("decision", {"x": 1})
    assert rows_of(db) == before


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite+pysqlite:///t.db",
        "sqlite:///t%2Edb",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ],
)
def test_only_a_plain_sqlite_path_is_taken(url: str) -> None:
    assert sqlite_path(url) is None


def test_a_plain_sqlite_path_is_the_file_the_store_opens() -> None:
    assert sqlite_path("sqlite:///t.db") == "t.db"
    assert sqlite_path("sqlite:////var/tg/t.db") == "/var/tg/t.db"


def test_postgresql_keeps_the_store_path() -> None:
    record = Record("r", "acme", ("customer.chat",), datetime(2023, 9, 1, tzinfo=UTC))
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert decide_on_sqlite(LOCAL, url, record, "train.first_party", None) is None


def test_the_known_revision_is_the_newest_migration() -> None:
    """A new migration makes the SQLite path step aside until it is taught the new
    schema: this test says so, rather than the path going quietly unused."""
    revisions, parents = set(), set()
    for file in MIGRATIONS.glob("*.py"):
        text = file.read_text()
        if found := re.search(r'^revision = "(\w+)"', text, re.M):
            revisions.add(found.group(1))
        if found := re.search(r'^down_revision = "(\w+)"', text, re.M):
            parents.add(found.group(1))
    assert revisions - parents == {KNOWN_REVISION}
