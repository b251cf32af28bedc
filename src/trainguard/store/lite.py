"""A single decision on a SQLite store, through the standard library's sqlite3.

Why this exists: ``trainguard decide`` is one process per decision, run from
scripts, and loading SQLAlchemy (its engine, SQL compiler and SQLite dialect,
which brings asyncio) was the largest part of its start. A decision needs a
handful of statements: read the terms, the tenant's family, the taxonomy and
the tenant's consent events, then append one audit entry. This module runs
them directly and writes exactly the rows the store writes: the entry's bytes
come from audit/entry.py, which the store's log uses too, under the store's
discipline — the same pragmas on connecting, then one BEGIN IMMEDIATE
(SQLite's single writer: the log's append lock) in which the decision reads
its state, and the append reads the head, inserts the entry and moves the
head. So the entry lands at the point of the log whose state it was made on.

It handles only what it knows: a plain SQLite path to an existing file whose
schema is at :data:`KNOWN_REVISION`. Anything else — another revision, a
missing table or row, any database error before the commit — raises
:class:`Unusual`, with nothing written, and the caller takes the store's full
path, which reports or handles the case as it always has. PostgreSQL never
comes here.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote

from ..audit.entry import entry_rows, head_sql, insert_sql, move_head_sql
from ..audit.names import CONSENT_EVENTS, POLICY_VERSIONS, SETTINGS, TAXONOMY_KEYS, TENANT_FAMILIES
from ..decision.consent import ConsentEvent, Ledger
from ..decision.decide import DecisionContext, PolicySet
from ..decision.policy import PolicyVersion
from ..decision.taxonomy import DEFAULT_TAXONOMY
from .url import resolve_url

# The Alembic revision whose tables this module reads and writes; the newest
# migration (a test holds the two together). A store at any other revision
# takes the full path.
KNOWN_REVISION = "0005"


class Unusual(Exception):
    """Not a store this module knows: take the store's full path (nothing was written)."""


class LiteStore:
    """One connection to a SQLite store, for one decision's reads and its entry."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, db: str | None) -> LiteStore:
        """The store ``--db`` names (as the store reads it), if it is one this
        module knows; else :class:`Unusual`."""
        path = sqlite_path(resolve_url(db))
        if path is None or not os.path.isfile(path):
            # The full path creates a missing file (privately) and then says the
            # store is not initialized; never create one here.
            raise Unusual(f"not a SQLite file: {db!r}")
        try:
            # mode=rw: never create the file, even if it went since the check above.
            uri = f"file:{quote(os.path.abspath(path))}?mode=rw"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise Unusual(str(exc)) from None
        store = cls(conn)
        try:
            store._configure()
            store._check_schema()
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LiteStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _configure(self) -> None:
        # What the store's engine does on every connection (store.py, _configure_sqlite).
        try:
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.Error as exc:
            raise Unusual(str(exc)) from None
        if mode is None or str(mode[0]).lower() != "wal":
            raise Unusual(f"journal mode {mode!r}")

    def _check_schema(self) -> None:
        try:
            rows = self._conn.execute("SELECT version_num FROM alembic_version").fetchall()
        except sqlite3.Error as exc:  # no such table: not initialized, or not a store
            raise Unusual(str(exc)) from None
        if rows != [(KNOWN_REVISION,)]:
            raise Unusual(f"schema revision {rows!r}, not {KNOWN_REVISION}")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE: the log's append lock) around the
        reads and the append within it, committed on leaving.

        Why: a decision read in a transaction of its own and logged in another
        could be logged after a consent withdrawal or a new assignment that some
        other process committed in between, which the decision never saw; the
        log would then show it made under state it was not made under."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise Unusual(str(exc)) from None
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                # SQLite commits all or nothing: after a failed COMMIT the
                # transaction is still open (rolled back above) or already undone.
                raise Unusual(str(exc)) from None
            raise

    # --- reading ------------------------------------------------------------------------

    def context(self, tenant: str) -> DecisionContext:
        """What a decision for ``tenant``'s content reads, from one snapshot: every
        version of the terms, the default family, the tenant's own family, the
        taxonomy, and the tenant's consent events. A decision reads no other
        tenant's assignment or events, so it comes out as under ``Store.context()``.
        Within :meth:`writing`, in its transaction."""
        own = not self._conn.in_transaction
        try:
            if own:
                self._conn.execute("BEGIN")
            try:
                policies = self._rows(
                    f"SELECT body FROM {POLICY_VERSIONS} ORDER BY family, effective_at_us"
                )
                default = self._rows(
                    f"SELECT value FROM {SETTINGS} WHERE key = ?", ("default_family",)
                )
                families = self._rows(
                    f"SELECT tenant, family FROM {TENANT_FAMILIES} WHERE tenant = ?", (tenant,)
                )
                keys = self._rows(f"SELECT key, kind, description FROM {TAXONOMY_KEYS}")
                events = self._rows(
                    f"SELECT body FROM {CONSENT_EVENTS} WHERE tenant = ? ORDER BY seq", (tenant,)
                )
            finally:
                if own:
                    self._conn.execute("COMMIT")
            policy_set = PolicySet(
                [PolicyVersion.model_validate(json.loads(r[0])) for r in policies],
                default_family=default[0][0] if default else None,
                tenant_families={str(r[0]): str(r[1]) for r in families},
            )
            cats = {r[0]: r[2] for r in keys if r[1] == "category"}
            uses = {r[0]: r[2] for r in keys if r[1] == "use"}
            ledger = Ledger(ConsentEvent.model_validate(json.loads(r[0])) for r in events)
            return DecisionContext(policy_set, ledger, DEFAULT_TAXONOMY.extended(cats, uses))
        except Exception as exc:
            # A row the full path may read differently, or fail on: it says how.
            raise Unusual(f"{type(exc).__name__}: {exc}") from None

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._conn.execute(sql, params).fetchall()

    # --- appending ----------------------------------------------------------------------

    def record(self, kind: str, data: dict[str, Any], at: datetime | None = None) -> int:
        """Append one entry: in :meth:`writing`'s transaction (its index once that
        commits), else in a write transaction of its own."""
        if not self._conn.in_transaction:
            with self.writing():
                return self.record(kind, data, at)
        conn = self._conn
        try:
            head = conn.execute(head_sql(lock=False)).fetchall()
            if len(head) != 1 or not isinstance(head[0][0], int):
                raise Unusual(f"audit head {head!r}")
            size = head[0][0]
            rows = entry_rows(size, [(kind, data)], at)
            conn.executemany(insert_sql("?"), rows)
            conn.execute(move_head_sql("?"), (size + len(rows),))
        except sqlite3.Error as exc:
            raise Unusual(str(exc)) from None
        return rows[0][0]


def sqlite_path(url: str) -> str | None:
    """The file a SQLite URL names, when it is one this module reads as the store's
    engine would (``sqlite:///PATH``, nothing more); else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    # '%' is unquoted by SQLAlchemy's URL parser; '?', '#': arguments, a fragment.
    if not path or path == ":memory:" or any(c in path for c in "?#%"):
        return None
    return path
