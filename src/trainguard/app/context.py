"""The decision context, kept in memory and brought up to date from the audit log.

Every change to what a decision reads (terms, tenant assignments, taxonomy,
consent) is written in the same transaction as its audit entry, so the log is
a complete journal of that state. The cache remembers how far into the log it
has read; before each use it reads the log's size (one small query) and, when
the log grew, only the entries past that point that bear state:

- consent events are added to the ledger incrementally (a new ledger sharing
  every untouched tenant's events, so decisions in flight are not disturbed);
- a policy, default-family, tenant or taxonomy change rebuilds the context;
- decisions, gate runs, model registrations… change nothing a decision reads
  and are skipped without being read.

So a decision costs the same with 100,000 consent events on record as with 2,
and the context still follows changes made by any process on the same store.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from ..decision.consent import ConsentEvent
from ..decision.decide import DecisionContext
from ..errors import TrainguardError
from ..store import Store
from ..store import schema as t

# Entries whose kind starts so change the terms a decision is made under.
REBUILD_PREFIXES = ("policy.", "tenant.", "taxonomy.")
CONSENT_PREFIX = "consent."
APIKEY_PREFIX = "apikey."
# Entries the service writes at volume; never state, so never read back.
SKIPPED_KINDS = ("decision", "decision.batch", "gateway.request")


class NotReady(TrainguardError):
    """The store is not there or not initialized: nothing the client did."""


class ContextCache:
    def __init__(self, store: Store, on_keys_changed: Callable[[], None] | None = None) -> None:
        self.store = store
        self.on_keys_changed = on_keys_changed
        self._lock = threading.Lock()
        self._size_lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None
        self._ctx: DecisionContext | None = None
        self._event_ids: set[str] = set()
        self._seen = 0
        self.loads = 0
        """Full loads of the context (the ledger read whole): for tests and metrics."""
        self.replayed = 0
        """Consent events added from the log since the last full load."""

    def get(self) -> DecisionContext:
        """The current context: as of the log's size when called."""
        try:
            size = self._log_size()
        except (OperationalError, sqlite3.Error):
            raise NotReady(
                f"database {self.store.display_url} is not initialized (run `trainguard init`)"
            ) from None
        with self._lock:
            if self._ctx is None:
                return self._load()
            # size < seen: another thread's entries were noted while this one
            # waited for the lock; the log never shrinks, so nothing is new.
            if size > self._seen:
                self._catch_up(size)
            assert self._ctx is not None
            return self._ctx

    @property
    def loaded(self) -> bool:
        return self._ctx is not None

    def current(self) -> DecisionContext:
        """The context as last brought up to date, without asking the store (loaded
        on first use). For work that is checked again when it is logged: see
        :class:`~.journal.Journal`."""
        ctx = self._ctx
        return ctx if ctx is not None else self.get()

    def up_to(self, size: int) -> DecisionContext:
        """The context as of a log of ``size`` entries, a size read under the log's
        append lock (so no entry below it is still to come)."""
        with self._lock:
            if self._ctx is None:
                return self._load()
            if size > self._seen:
                self._catch_up(size)
            assert self._ctx is not None
            return self._ctx

    def close(self) -> None:
        with self._size_lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None

    def _log_size(self) -> int:
        """The log's size, read on every request: on SQLite through one connection
        kept open for it (opening one costs more than the query), elsewhere
        through the store's connection pool."""
        path = self.store.engine.url.database
        if not self.store.is_sqlite or not path or path == ":memory:":
            return self.store.audit.size()
        with self._size_lock:
            if self._sqlite is None:
                # mode=rw: never create the file (a missing store is not ready).
                uri = f"file:{Path(path).resolve().as_posix()}?mode=rw"
                self._sqlite = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
                self._sqlite.execute("PRAGMA busy_timeout=30000")
            row = self._sqlite.execute(f"SELECT size FROM {t.audit_head.name}").fetchone()
            return int(row[0])

    def note_appended(self, first: int, count: int) -> None:
        """Entries [first, first+count) were written by this process and hold no
        state (decisions): skip them without reading them back."""
        with self._lock:
            if self._seen == first:
                self._seen = first + count

    def _load(self) -> DecisionContext:
        # The size first: whatever is committed after it is replayed, and a
        # consent event that the load already saw is recognized by its id.
        size = self._log_size()
        ctx = self.store.context()
        self._event_ids = ctx.ledger.event_ids()
        self._ctx, self._seen = ctx, size
        self.loads += 1
        self.replayed = 0
        if self.on_keys_changed is not None:
            self.on_keys_changed()
        return ctx

    def _catch_up(self, size: int) -> None:
        assert self._ctx is not None
        with self.store.read() as conn:
            rows = conn.execute(
                select(t.audit_entries.c.kind, t.audit_entries.c.body)
                .where(
                    t.audit_entries.c.idx >= self._seen,
                    t.audit_entries.c.idx < size,
                    t.audit_entries.c.kind.not_in(SKIPPED_KINDS),
                )
                .order_by(t.audit_entries.c.idx)
            ).all()
        events: list[ConsentEvent] = []
        keys_changed = False
        for kind, body in rows:
            if kind.startswith(REBUILD_PREFIXES):
                self._load()
                return
            if kind.startswith(CONSENT_PREFIX):
                if body is None:  # redacted: the entry no longer says which event
                    self._load()
                    return
                event = _event_of(json.loads(body)["data"])
                if event.event_id not in self._event_ids:
                    self._event_ids.add(event.event_id)
                    events.append(event)
            elif kind.startswith(APIKEY_PREFIX):
                keys_changed = True
        if events:
            ctx = self._ctx
            self._ctx = DecisionContext(ctx.policies, ctx.ledger.extended(events), ctx.taxonomy)
            self.replayed += len(events)
        self._seen = size
        if keys_changed and self.on_keys_changed is not None:
            self.on_keys_changed()


def _event_of(data: dict[str, Any]) -> ConsentEvent:
    fields = {k: v for k, v in data.items() if k != "id"}
    return ConsentEvent.model_validate(fields)
