"""The store: SQLite by default, PostgreSQL in production, one small interface.

Everything that changes state goes through a write transaction that also
appends to the audit log, so the log and the data cannot disagree: either
both are committed or neither is.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, insert, select, update
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import NullPool

from ..decision.consent import (
    ConsentEvent,
    Ledger,
    UnmatchedWithdrawalError,
    check_event,
    check_withdrawals_match,
)
from ..decision.decide import DecisionContext, PolicySet
from ..decision.identity import check_family, check_tenant
from ..decision.policy import PolicyVersion
from ..decision.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from ..errors import ConflictError, InputError, NotFoundError
from ..timeutil import format_instant, now_utc, to_micros
from . import schema as t
from .url import DEFAULT_URL as DEFAULT_URL
from .url import resolve_url as resolve_url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so writers can
        # take the lock up front (BEGIN IMMEDIATE) instead of failing to
        # upgrade a read lock later.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the log acknowledged survives power loss, not only a crash.
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("tg_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Store:
    """Policies, tenants, taxonomy extensions, consent events and the audit log."""

    def __init__(self, url: str | None = None, *, engine: Engine | None = None) -> None:
        self.url = resolve_url(url)
        if engine is not None:
            self.engine = engine
        else:
            self.engine = self._create_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        from ..audit.log import AuditLog

        self.audit = AuditLog(self)

    @staticmethod
    def _create_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            if "?" in url:
                # The driver would ignore most arguments, and the file made for the
                # store would carry them in its name.
                raise InputError(f"database {url}: a SQLite URL takes no query arguments")
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                parent = Path(path).parent
                if not parent.exists():
                    raise InputError(f"database {path}: folder {parent} does not exist")
                _create_private(path)
            engine = create_engine(url, poolclass=NullPool)
            _configure_sqlite(engine)
            return engine
        try:
            return create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:
            raise InputError(
                f"database {url.split('@')[-1]}: driver {exc.name!r} is missing "
                "(pip install 'trainguard[postgres]')"
            ) from None

    # --- connections -------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction; the single writer on SQLite, row-locked on PostgreSQL."""
        with self.engine.connect().execution_options(tg_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; ``snapshot``: every statement sees the same committed state
        (SQLite's read transactions always do; PostgreSQL needs REPEATABLE READ)."""
        with self.engine.connect() as conn:
            if snapshot and not self.is_sqlite:
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # --- schema ------------------------------------------------------------------------

    def init(self) -> None:
        """Create or upgrade the schema (Alembic) and the log's identity."""
        # Imported here: Alembic takes a third of a second to import, and only
        # `init` needs it — not every command a user types.
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        script = resources.files("trainguard.store") / "migrations"
        cfg.set_main_option("script_location", str(script))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise InputError(f"database {self.display_url}: {_first_line(exc)}") from None
        with self.write() as conn:
            origin = self._setting(conn, "audit_origin")
            if origin is None:
                origin = f"trainguard.local/{secrets.token_hex(6)}"
                conn.execute(insert(t.settings).values(key="audit_origin", value=origin))
                self.audit.append(conn, "log.origin", {"origin": origin})
            elif not self._origin_logged(conn):
                # A store made before the origin was logged: log it now, so that
                # `audit verify` can hold the setting to the log from here on.
                self.audit.append(conn, "log.origin", {"origin": origin})

    def _origin_logged(self, conn: Connection) -> bool:
        found = conn.execute(
            select(t.audit_entries.c.idx).where(t.audit_entries.c.kind == "log.origin").limit(1)
        ).first()
        return found is not None

    @property
    def display_url(self) -> str:
        """The URL without credentials, safe for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def check_ready(self) -> None:
        try:
            with self.read() as conn:
                conn.execute(select(t.audit_head.c.size)).first()
        except OperationalError:
            raise InputError(
                f"database {self.display_url} is not initialized (run `trainguard init`)"
            ) from None
        except DatabaseError as exc:  # e.g. --db names a file that is not SQLite
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "unreadable"
            raise InputError(
                f"database {self.display_url}: not a trainguard store ({reason})"
            ) from None

    def _setting(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(t.settings.c.value).where(t.settings.c.key == key)).scalar()

    def _set_setting(self, conn: Connection, key: str, value: str) -> None:
        if self._setting(conn, key) is None:
            conn.execute(insert(t.settings).values(key=key, value=value))
        else:
            conn.execute(update(t.settings).where(t.settings.c.key == key).values(value=value))

    def setting(self, key: str) -> str | None:
        with self.read() as conn:
            return self._setting(conn, key)

    # --- taxonomy ----------------------------------------------------------------------

    def taxonomy(self) -> Taxonomy:
        with self.read() as conn:
            return self._taxonomy(conn)

    def _taxonomy(self, conn: Connection) -> Taxonomy:
        rows = conn.execute(select(t.taxonomy_keys)).all()
        cats = {r.key: r.description for r in rows if r.kind == "category"}
        uses = {r.key: r.description for r in rows if r.kind == "use"}
        return DEFAULT_TAXONOMY.extended(cats, uses)

    def extend_taxonomy(self, categories: dict[str, str], uses: dict[str, str]) -> int:
        """Add keys (validated; existing ones refused). Returns how many were added."""
        current = self.taxonomy()
        current.extended(categories, uses)  # validates before anything is written
        rows = [{"key": k, "kind": "category", "description": v} for k, v in categories.items()]
        rows += [{"key": k, "kind": "use", "description": v} for k, v in uses.items()]
        if rows:
            with self.write() as conn:
                conn.execute(insert(t.taxonomy_keys), rows)
                self.audit.append(conn, "taxonomy.extended", {"keys": rows})
        return len(rows)

    # --- policies ----------------------------------------------------------------------

    def add_policies(self, versions: Sequence[tuple[PolicyVersion, str]]) -> list[tuple[str, bool]]:
        """Add versions atomically. Returns (hash, newly added) per version.

        Refuses the whole batch when any version conflicts: same family and
        version with other content, or two versions effective at the same instant.
        """
        taxonomy = self.taxonomy()
        for version, source in versions:
            try:
                version.check_taxonomy(taxonomy)
            except InputError as exc:
                raise InputError(f"{source}: {exc}") from None
        out: list[tuple[str, bool]] = []
        now = now_utc()
        with self.write() as conn:
            for version, source in versions:
                h = version.content_hash
                eff = to_micros(version.effective_at)
                same_name = conn.execute(
                    select(t.policy_versions.c.hash).where(
                        t.policy_versions.c.family == version.family,
                        t.policy_versions.c.version == version.version,
                    )
                ).scalar()
                if same_name is not None:
                    if same_name != h:
                        raise ConflictError(
                            f"{source}: {version.label} is already in the store with different "
                            f"content (hash {same_name[:12]}); versions are immutable, add a new one"
                        )
                    out.append((h, False))
                    continue
                same_time = conn.execute(
                    select(t.policy_versions.c.version).where(
                        t.policy_versions.c.family == version.family,
                        t.policy_versions.c.effective_at_us == eff,
                    )
                ).scalar()
                if same_time is not None:
                    raise ConflictError(
                        f"{source}: family {version.family} already has version {same_time!r} "
                        f"effective at {format_instant(version.effective_at)}"
                    )
                body = json.dumps(version.canonical(), sort_keys=True)
                conn.execute(
                    insert(t.policy_versions).values(
                        hash=h,
                        family=version.family,
                        version=version.version,
                        effective_at_us=eff,
                        body=body,
                        source=Path(source).name,
                        added_at_us=to_micros(now),
                    )
                )
                self.audit.append(
                    conn,
                    "policy.added",
                    {
                        "hash": h,
                        "family": version.family,
                        "version": version.version,
                        "effective_at": format_instant(version.effective_at),
                        "source": Path(source).name,
                    },
                    at=now,
                )
                out.append((h, True))
        return out

    def policies(self) -> list[PolicyVersion]:
        with self.read() as conn:
            return self._policies(conn)

    def _policies(self, conn: Connection) -> list[PolicyVersion]:
        rows = conn.execute(
            select(t.policy_versions.c.body).order_by(
                t.policy_versions.c.family, t.policy_versions.c.effective_at_us
            )
        ).all()
        return [PolicyVersion.model_validate(json.loads(r.body)) for r in rows]

    def set_default_family(self, family: str | None) -> None:
        """Put every unassigned tenant under ``family``; None: under no terms
        (UNKNOWN_TENANT). Only this sets a default: adding a family never does."""
        if family is not None:
            check_family(family)
        with self.write() as conn:
            if family is None:
                conn.execute(t.settings.delete().where(t.settings.c.key == "default_family"))
            else:
                self._require_family(conn, family)
                self._set_setting(conn, "default_family", family)
            self.audit.append(conn, "policy.default_family", {"family": family})

    def assign_tenant(self, tenant: str, family: str) -> None:
        check_tenant(tenant)
        check_family(family)
        with self.write() as conn:
            self._require_family(conn, family)
            conn.execute(t.tenant_families.delete().where(t.tenant_families.c.tenant == tenant))
            conn.execute(insert(t.tenant_families).values(tenant=tenant, family=family))
            self.audit.append(conn, "tenant.family", {"tenant": tenant, "family": family})

    def _require_family(self, conn: Connection, family: str) -> None:
        found = conn.execute(
            select(func.count()).where(t.policy_versions.c.family == family)
        ).scalar()
        if not found:
            raise NotFoundError(f"policy family {family!r} has no versions in the store")

    def policy_set(self) -> PolicySet:
        with self.read(snapshot=True) as conn:
            return self._policy_set(conn)

    def _policy_set(self, conn: Connection) -> PolicySet:
        default = self._setting(conn, "default_family")
        tenants = {r.tenant: r.family for r in conn.execute(select(t.tenant_families))}
        return PolicySet(self._policies(conn), default_family=default, tenant_families=tenants)

    # --- consent -----------------------------------------------------------------------

    def add_consent_events(
        self, events: Iterable[ConsentEvent], *, allow_unmatched: bool = False
    ) -> tuple[int, int]:
        """Append events atomically; events already on record are skipped.

        Returns (added, already present). Each event's identities, limits, policy
        version (in the store) and patterns (in the taxonomy) are checked before
        writing, and so is every withdrawal: one that would end no grant is
        refused unless ``allow_unmatched``.
        """
        batch = list(events)
        policies = self.policy_set()
        taxonomy = self.taxonomy()
        for e in batch:
            check_event(e, f"consent event {e.event_id}")
            e.check_taxonomy(taxonomy)
            if e.policy_version not in policies.by_hash:
                raise NotFoundError(
                    f"consent event {e.event_id}: policy version {e.policy_version[:12]} is not in the store"
                )
        if not allow_unmatched and any(e.kind == "withdraw" for e in batch):
            tenants = sorted({e.tenant for e in batch if e.kind == "withdraw"})
            try:
                check_withdrawals_match(batch, self._consent_events_of(tenants), taxonomy)
            except UnmatchedWithdrawalError:
                # Only other tenants' grants are missing from the first check: with
                # them in view too, the error can name the closest tenant on record.
                check_withdrawals_match(batch, self.consent_events(), taxonomy)
                raise
        added = 0
        when = now_utc()  # the row's recorded_at is the entry's time
        now = to_micros(when)
        with self.write() as conn:
            ids = [e.event_id for e in batch]
            existing: set[str] = set()
            for chunk in _chunks(ids, 500):
                existing.update(
                    conn.execute(
                        select(t.consent_events.c.id).where(t.consent_events.c.id.in_(chunk))
                    ).scalars()
                )
            rows = []
            entries = []
            for e in batch:
                if e.event_id in existing:
                    continue
                existing.add(e.event_id)
                canonical = e.canonical()
                rows.append(
                    {
                        "id": e.event_id,
                        "tenant": e.tenant,
                        "kind": e.kind,
                        "subject": e.subject,
                        "role": e.role,
                        "at_us": to_micros(e.at),
                        "body": json.dumps(canonical, sort_keys=True),
                        "recorded_at_us": now,
                    }
                )
                entries.append(("consent." + e.kind, {"id": e.event_id, **canonical}))
            if rows:
                conn.execute(insert(t.consent_events), rows)
                self.audit.append_many(conn, entries, at=when)
                added = len(rows)
        return added, len(batch) - added

    def consent_events(self, tenant: str | None = None) -> list[ConsentEvent]:
        with self.read() as conn:
            return self._consent_events(conn, tenant)

    def _consent_events(self, conn: Connection, tenant: str | None = None) -> list[ConsentEvent]:
        q = select(t.consent_events.c.body).order_by(t.consent_events.c.seq)
        if tenant is not None:
            q = q.where(t.consent_events.c.tenant == tenant)
        return [ConsentEvent.model_validate(json.loads(r.body)) for r in conn.execute(q)]

    def _consent_events_of(self, tenants: Sequence[str]) -> list[ConsentEvent]:
        """The events of these tenants, in the order they were recorded."""
        found: list[tuple[int, ConsentEvent]] = []
        with self.read() as conn:
            for chunk in _chunks(tenants, 500):
                q = select(t.consent_events.c.seq, t.consent_events.c.body).where(
                    t.consent_events.c.tenant.in_(chunk)
                )
                found += [
                    (r.seq, ConsentEvent.model_validate(json.loads(r.body)))
                    for r in conn.execute(q)
                ]
        return [e for _, e in sorted(found, key=lambda p: p[0])]

    # --- decisions ---------------------------------------------------------------------

    def context(self, conn: Connection | None = None) -> DecisionContext:
        """Everything ``decide`` needs, loaded once: from one snapshot, or read in
        ``conn``'s transaction (see :meth:`deciding`)."""
        if conn is None:
            with self.read(snapshot=True) as conn:
                return self.context(conn)
        return DecisionContext(
            self._policy_set(conn), Ledger(self._consent_events(conn)), self._taxonomy(conn)
        )

    @contextmanager
    def deciding(self) -> Iterator[Connection]:
        """A write transaction holding the log's append lock from its start, for a
        decision that reads its context (``context(conn)``) and appends its entry
        (``audit.append(conn, …)``) in it: the entry then lands at the point of the
        log whose state the decision read, not after a change committed meanwhile."""
        with self.write() as conn:
            self.audit.lock(conn)
            yield conn


def _create_private(path: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask): it
    holds consent events and subjects. SQLite gives its -wal and -shm files the
    database file's mode, so they are private too. An existing file is left as it is."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise InputError(f"database {path}: cannot be created ({exc.strerror})") from None


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0]
