"""The audit log in the store: gap-free indexes, batched appends, proofs, verification.

Entries are canonical JSON ``{"index", "kind", "at", "data"}``. The index
inside the body ties each entry to its position, so swapping two rows is
caught even by someone who recomputes every leaf hash.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)

from ..errors import ConflictError, InputError, IntegrityError, NotFoundError
from ..timeutil import now_utc, to_micros
from . import schema as t
from .entry import entry_rows, head_sql, insert_sql, move_head_sql
from .keys import (
    DEFAULT_MAX_UNSIGNED,
    KEY_KINDS,
    PIN_KIND,
    ROTATION_KIND,
    KeyChain,
    KeyChainError,
    KeyEvent,
    check_max_unsigned,
    pin_data,
    rotation_data,
)
from .merkle import MerkleFrontier, MerkleTree, leaf_hash
from .note import Checkpoint, Signer, VerifierKey, parse_body
from .schema import KEY_EVENTS_CONDITION

if TYPE_CHECKING:
    import numpy as np

    from .collect import LogScan


class LogStore(Protocol):
    """What the log needs of the store that holds it (trainguard.store.Store is one).

    Named here, not imported, so the audit package never imports the store: the
    store builds on the log, not the other way round."""

    engine: Engine
    is_sqlite: bool

    def write(self) -> AbstractContextManager[Connection]: ...

    def read(self, snapshot: bool = False) -> AbstractContextManager[Connection]: ...

    def setting(self, key: str) -> str | None: ...

    def _setting(self, conn: Connection, key: str) -> str | None: ...

    def _set_setting(self, conn: Connection, key: str, value: str) -> None: ...


_FETCH = 10_000
_sha256 = hashlib.sha256


@dataclass
class VerifyReport:
    size: int = 0
    checkpoints: int = 0
    redacted: list[int] = field(default_factory=list)
    ok: bool = True
    problem: str | None = None
    bad_index: int | None = None
    keys: KeyChain | None = None  # the keys checkpoints were checked against (None: unsigned)
    unsigned: int = 0  # entries after the latest checkpoint
    latest: str | None = None  # the latest checkpoint note, verified
    redecided: int = 0  # logged single decisions made again under the logged state
    not_redecided: int = 0  # logged single decisions that could not be made again

    def fail(self, problem: str, index: int | None = None) -> VerifyReport:
        self.ok, self.problem, self.bad_index = False, problem, index
        return self


class AuditLog:
    def __init__(self, store: LogStore) -> None:
        self.store = store
        self._tree = MerkleTree()
        self._lock = threading.Lock()
        # Set once this object has appended: the CLI signs what a command wrote.
        self.appended = False

    # --- appending --------------------------------------------------------------------

    def append(
        self, conn: Connection, kind: str, data: dict[str, Any], at: datetime | None = None
    ) -> int:
        """Append one entry inside the caller's write transaction."""
        return self.append_many(conn, [(kind, data)], at)[0]

    def append_many(
        self,
        conn: Connection,
        items: Sequence[tuple[str, dict[str, Any]]],
        at: datetime | None = None,
    ) -> list[int]:
        """Append entries inside the caller's write transaction (one commit for all).

        ``at`` (default now) is the entries' time; a state write passes the
        instant it stores in its row, so the row's time is the logged one.
        """
        if not items:
            return []
        size = self._head_size(conn)
        rows = entry_rows(size, items, at)
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter
        # processing cost as much as canonicalizing the entries.
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(insert_sql(mark), rows)
        conn.exec_driver_sql(move_head_sql(mark), (size + len(rows),))
        self.appended = True
        return [r[0] for r in rows]

    def record(self, kind: str, data: dict[str, Any]) -> int:
        with self.store.write() as conn:
            return self.append(conn, kind, data)

    def record_many(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[int]:
        with self.store.write() as conn:
            return self.append_many(conn, items)

    # --- reading ----------------------------------------------------------------------

    def size(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(select(t.audit_head.c.size)).scalar_one())

    def tree(self) -> MerkleTree:
        """The Merkle tree over every committed entry, loading only new leaves."""
        with self._lock, self.store.read() as conn:
            size = int(conn.execute(select(t.audit_head.c.size)).scalar_one())
            while self._tree.size < size:
                rows = conn.execute(
                    select(t.audit_entries.c.idx, t.audit_entries.c.leaf_hash)
                    .where(t.audit_entries.c.idx >= self._tree.size)
                    .order_by(t.audit_entries.c.idx)
                    .limit(_FETCH)
                ).all()
                start = self._tree.size
                missing = _first_gap([r[0] for r in rows], start)
                if missing is not None or not rows:
                    raise IntegrityError(
                        f"audit log: entry {start if not rows else missing} is missing"
                    )
                self._tree.extend(bytes(r[1]) for r in rows[: size - start])
            return self._tree

    def entry(self, index: int) -> dict[str, Any]:
        with self.store.read() as conn:
            row = conn.execute(
                select(t.audit_entries).where(t.audit_entries.c.idx == index)
            ).first()
        if row is None:
            raise NotFoundError(f"audit entry {index} does not exist")

        return {
            "index": index,
            "kind": row.kind,
            "leaf_hash": bytes(row.leaf_hash).hex(),
            "redacted": row.body is None,
            "entry": json.loads(bytes(row.body)) if row.body is not None else None,
        }

    def origin(self) -> str:
        origin = self.store.setting("audit_origin")
        if origin is None:
            raise NotFoundError("audit log has no origin (run `trainguard init`)")
        return origin

    # --- checkpoints and proofs -------------------------------------------------------

    def checkpoint(self, signer: Signer) -> str:
        """Sign the current tree head and store the note.

        The signer must be the key the log pins; on a log that pins none yet,
        the signer is pinned first (with the default unsigned-entry limit).
        """
        with self.store.write() as conn:
            pinned = self._pinned(conn)
            if pinned is None:
                self._append_pin(conn, signer, DEFAULT_MAX_UNSIGNED)
            elif pinned != signer.verifier:
                raise InputError(_not_pinned(signer.verifier, pinned))
            return self._sign_head(conn, signer)

    def checkpoint_if_due(self, signer: Signer, min_unsigned: int = 1) -> str | None:
        """Checkpoint when at least ``min_unsigned`` entries are not yet signed; else None."""
        signed, size = self.signed_size()
        if size - signed < max(min_unsigned, 1):
            return None
        return self.checkpoint(signer)

    def signed_size(self) -> tuple[int, int]:
        """(size of the latest checkpoint, size of the log)."""
        with self.store.read() as conn:
            row = conn.execute(select(t.audit_head.c.signed_size, t.audit_head.c.size)).one()
        return int(row[0]), int(row[1])

    def pinned_key(self) -> VerifierKey | None:
        """The key the log currently pins (as the writer keeps it; `verify` reads the log)."""
        with self.store.read() as conn:
            return self._pinned(conn)

    def pin_key(self, signer: Signer, max_unsigned: int = DEFAULT_MAX_UNSIGNED) -> bool:
        """Pin ``signer``'s verifier key in the log and sign a checkpoint covering the pin.

        Returns False when that key is already the pinned one; refuses another key.
        """
        check_max_unsigned(max_unsigned)
        with self.store.write() as conn:
            pinned = self._pinned(conn)
            if pinned == signer.verifier:
                return False
            if pinned is not None:
                raise ConflictError(
                    f"the audit log already pins key {_label(pinned)}; "
                    "change it with `trainguard audit rotate-key`"
                )
            self._append_pin(conn, signer, max_unsigned)
            self._sign_head(conn, signer)
        return True

    def rotate_key(self, old: Signer, new: Signer, max_unsigned: int | None = None) -> str:
        """Hand the log to a new key: the old key signs the head, then a rotation
        entry (the new key, signed by both) is appended and the new key signs it.
        Returns the new key's checkpoint."""
        with self.store.write() as conn:
            pinned = self._pinned(conn)
            if pinned is None:
                raise InputError("the audit log pins no key yet (run `trainguard audit keygen`)")
            if pinned != old.verifier:
                raise InputError(_not_pinned(old.verifier, pinned))
            if new.verifier == old.verifier:
                raise InputError("the new key is the key in force; nothing to rotate")
            limit = check_max_unsigned(
                max_unsigned
                if max_unsigned is not None
                else int(self.store._setting(conn, "audit_max_unsigned") or DEFAULT_MAX_UNSIGNED)
            )
            self._sign_head(conn, old)
            index = self._head_size(conn)
            data = rotation_data(old, new, self._origin(conn), index, limit)
            self.append(conn, ROTATION_KIND, data)
            self._keep_pin(conn, new.verifier, limit)
            return self._sign_head(conn, new)

    def _pinned(self, conn: Connection) -> VerifierKey | None:
        text = self.store._setting(conn, "audit_key")
        return None if text is None else VerifierKey.parse(text, "pinned key")

    def _keep_pin(self, conn: Connection, key: VerifierKey, max_unsigned: int) -> None:
        # The writer's copy, so signing need not search the log for key events.
        self.store._set_setting(conn, "audit_key", key.text)
        self.store._set_setting(conn, "audit_max_unsigned", str(max_unsigned))

    def _append_pin(self, conn: Connection, signer: Signer, max_unsigned: int) -> None:
        index = self._head_size(conn)
        latest = conn.execute(
            select(t.audit_checkpoints.c.note).order_by(t.audit_checkpoints.c.size.desc()).limit(1)
        ).scalar()
        if latest is not None:
            # Checkpoints from before pinning are verified under the first pinned key.
            try:
                signer.verifier.verify(latest)
            except IntegrityError:
                raise InputError(
                    f"the audit log's checkpoints are signed by another key than "
                    f"{_label(signer.verifier)}; pin that key (`trainguard audit pin --key FILE`)"
                ) from None
        self.append(conn, PIN_KIND, pin_data(signer, self._origin(conn), index, max_unsigned))
        self._keep_pin(conn, signer.verifier, max_unsigned)

    def lock(self, conn: Connection) -> int:
        """Take the log's append lock in the caller's write transaction (held until it
        ends) and return the log's size."""
        return self._head_size(conn)

    def _head_size(self, conn: Connection) -> int:
        """The log's size, locked until the caller's transaction ends: a row lock on
        PostgreSQL; on SQLite the write transaction already holds the lock. Plain
        SQL: building the statement each time cost more than running it."""
        row = conn.exec_driver_sql(head_sql(lock=conn.dialect.name != "sqlite")).one()
        return int(row[0])

    def _origin(self, conn: Connection) -> str:
        origin = self.store._setting(conn, "audit_origin")
        if origin is None:
            raise NotFoundError("audit log has no origin (run `trainguard init`)")
        return origin

    def _sign_head(self, conn: Connection, signer: Signer) -> str:
        """Sign the head inside the caller's write transaction.

        The root comes from the latest checkpoint's stored frontier extended by
        the leaves after it, so the cost follows the unsigned tail, not the log.
        """
        size = self._head_size(conn)
        cp = t.audit_checkpoints
        latest = conn.execute(
            select(cp.c.size, cp.c.root, cp.c.note, cp.c.frontier)
            .order_by(cp.c.size.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.size == size:
            return str(latest.note)
        if latest is not None and latest.size > size:
            raise IntegrityError(
                f"audit log: the head says {size} entries but a checkpoint signs "
                f"{latest.size} (truncated); run `trainguard audit verify`"
            )
        frontier = MerkleFrontier()
        if latest is not None and latest.frontier is not None and latest.size < size:
            kept = MerkleFrontier.restore(int(latest.size), bytes(latest.frontier))
            # A frontier that does not give its checkpoint's root is not used.
            if kept.root() == bytes(latest.root):
                frontier = kept
        while frontier.size < size:
            rows = conn.execute(
                select(t.audit_entries.c.idx, t.audit_entries.c.leaf_hash)
                .where(t.audit_entries.c.idx >= frontier.size, t.audit_entries.c.idx < size)
                .order_by(t.audit_entries.c.idx)
                .limit(_FETCH)
            ).all()
            at = frontier.size
            missing = _first_gap([r[0] for r in rows], at)
            if missing is not None or not rows:
                raise IntegrityError(f"audit log: entry {at if not rows else missing} is missing")
            if any(len(r[1]) != 32 for r in rows):
                raise IntegrityError(f"audit log: a stored leaf hash after {at} is not 32 bytes")
            frontier.extend(_stored_leaves([bytes(r[1]) for r in rows]))
        root = frontier.root()
        note = signer.sign(Checkpoint(self._origin(conn), size, root))
        conn.execute(
            insert(cp).values(
                size=size,
                root=root,
                note=note,
                created_at_us=to_micros(now_utc()),
                frontier=frontier.to_bytes(),
                previous=None if latest is None else int(latest.size),
            )
        )
        conn.execute(update(t.audit_head).where(t.audit_head.c.id == 1).values(signed_size=size))
        return note

    def latest_checkpoint(self) -> str | None:
        with self.store.read() as conn:
            return conn.execute(
                select(t.audit_checkpoints.c.note)
                .order_by(t.audit_checkpoints.c.size.desc())
                .limit(1)
            ).scalar()

    def inclusion_proof(self, index: int, size: int | None = None) -> dict[str, Any]:
        tree = self.tree()
        n = tree.size if size is None else size
        if not 0 <= index < n <= tree.size:
            raise NotFoundError(f"no entry {index} in a log of size {n} (log has {tree.size})")
        entry = self.entry(index)
        return {
            "type": "inclusion",
            "origin": self.origin(),
            "index": index,
            "tree_size": n,
            "leaf_hash": entry["leaf_hash"],
            "entry": entry["entry"],
            "root": tree.root(n).hex(),
            "proof": [h.hex() for h in tree.inclusion_proof(index, n)],
        }

    def consistency_proof(self, old: int, new: int) -> dict[str, Any]:
        tree = self.tree()
        if not 0 <= old <= new <= tree.size:
            raise NotFoundError(f"no consistency proof from {old} to {new} (log has {tree.size})")
        return {
            "type": "consistency",
            "origin": self.origin(),
            "old_size": old,
            "new_size": new,
            "old_root": tree.root(old).hex(),
            "new_root": tree.root(new).hex(),
            "proof": [h.hex() for h in tree.consistency_proof(old, new)],
        }

    # --- redaction and verification ---------------------------------------------------

    def redact(self, index: int) -> int:
        """Erase an entry's body; its leaf hash stays, so proofs still hold.

        In the same transaction an ``audit.redacted`` entry logs the index, kind,
        leaf hash and a digest of the erased data: `verify` accepts a missing
        body only where such an entry says so, and still checks a consent row
        whose entry was erased against the digest. Returns that entry's index.
        """
        now = now_utc()
        with self.store.write() as conn:
            row = conn.execute(
                select(t.audit_entries.c.leaf_hash, t.audit_entries.c.kind, t.audit_entries.c.body)
                .where(t.audit_entries.c.idx == index)
                .with_for_update()
            ).first()
            if row is None:
                raise NotFoundError(f"audit entry {index} does not exist")
            if row.body is None:
                raise ConflictError(f"audit entry {index} is already redacted")
            if row.kind in KEY_KINDS:
                # The log's keys are public, and verification needs them.
                raise InputError(f"audit entry {index}: a key event ({row.kind}) cannot be erased")
            from .collect import REDACTED
            from .state import redaction_record, redaction_refused

            refused = redaction_refused(row.kind)
            if refused is not None:
                raise ConflictError(f"audit entry {index} ({row.kind}): {refused}")
            body, leaf = bytes(row.body), bytes(row.leaf_hash)
            entry = json.loads(body) if leaf_hash(body) == leaf else None
            # Erasing a tampered entry would launder it: only a sound one is erased.
            if entry is None or entry.get("kind") != row.kind or entry.get("index") != index:
                raise IntegrityError(
                    f"audit entry {index} does not verify; run `trainguard audit verify`"
                )
            conn.execute(
                update(t.audit_entries)
                .where(t.audit_entries.c.idx == index)
                .values(body=None, redacted_at_us=to_micros(now))
            )
            return self.append(conn, REDACTED, redaction_record(index, entry, leaf), at=now)

    def verify(
        self,
        verifier: VerifierKey | None = None,
        *,
        since: str | None = None,
        source: str = "the given key",
        state: bool = True,
    ) -> VerifyReport:
        """Recompute every leaf and root; check every checkpoint. Names the first bad index.

        Checkpoints are checked against the keys the log itself pins (its
        ``audit.key_pinned`` entry and signed rotations). ``verifier``, a key the
        caller trusts (named ``source`` in messages), must be one of them; on a
        log that pins none it stands in for the pin. ``since`` is a checkpoint
        note seen before: the log must still hold it, unchanged.

        Rows are checked a chunk at a time: leaves hashed in one native loop,
        indexes parsed by a compiled scan, compared as arrays; only when a chunk
        fails is it walked row by row to name the first bad index. Roots at
        checkpoint sizes come from a frontier fed with the leaf array. A
        checkpoint at size s covers entries before s, so it is judged before
        any fault at index ≥ s.
        """
        report = VerifyReport()
        origin = self.origin()
        seen = _seen_checkpoint(since)
        import numpy as np

        from .collect import LogScan
        from .state import check_state

        scan = LogScan() if state else None
        # Millions of short-lived objects: the cyclic collector would rescan
        # them again and again and find nothing (none of them form cycles).
        with _collector_paused():
            sqlite_file = self._sqlite_file()
            if sqlite_file is not None and _arrow_reader_available():
                head, checkpoints, chunks, fault = self._read_arrow(
                    sqlite_file, report.redacted, scan
                )
            else:
                head, checkpoints, chunks, fault = self._read_driver(report.redacted, scan)
        leaves = np.concatenate(chunks) if chunks else np.empty((0, 32), dtype=np.uint8)
        report.size = size_stored = len(leaves)
        try:
            chain = self._key_chain(origin, leaves)
        except KeyChainError as exc:
            return report.fail(str(exc), exc.index)
        keys, problem = _trusted_keys(chain, verifier, source)
        if problem:
            return report.fail(problem)
        report.keys = keys
        wanted = [size for size, _ in checkpoints if size <= size_stored]
        if seen is not None and seen.size <= size_stored:
            wanted.append(seen.size)
        roots = _roots_at(leaves, wanted)
        for size, note in checkpoints:
            if size > size_stored:
                break
            key = keys.key_for(size) if keys else None
            problem = _check_checkpoint(note, size, roots[size], key, origin)
            if problem:
                return report.fail(f"checkpoint at size {size}: {problem}", max(size - 1, 0))
            report.checkpoints += 1
            report.latest = note
        if fault is not None:
            return report.fail(*fault)
        if seen is not None and since is not None:
            stored = {size for size, _ in checkpoints}
            problem = _check_seen(
                seen, since, origin, roots.get(seen.size), size_stored, keys, stored
            )
            if problem:
                # Only a shrunk log has an index to name: the first entry gone.
                shrank = problem.startswith("log shrank")
                return report.fail(problem, size_stored if shrank else None)
        if size_stored != head:
            how = "truncated" if size_stored < head else "entries past the head"
            return report.fail(
                f"log head says {head} entries but {size_stored} are stored ({how})",
                min(size_stored, head),
            )
        if report.checkpoints < len(checkpoints):
            size = checkpoints[report.checkpoints][0]
            return report.fail(
                f"checkpoint at size {size} but the log holds only {size_stored} entries (truncated)",
                size_stored,
            )
        signed = checkpoints[-1][0] if checkpoints else 0
        report.unsigned = size_stored - signed
        fault = self._checkpoint_rows_fault()
        if fault is None and keys is not None:
            fault = _coverage_fault(keys, signed, size_stored, bool(checkpoints))
        if fault is not None:
            return report.fail(*fault)
        if scan is not None:
            # Every entry is sound: now the state tables must be what the log says.
            with _collector_paused():
                state_fault = check_state(scan)
            report.redecided, report.not_redecided = scan.redecided, scan.not_redecided
            if state_fault is not None:
                return report.fail(*state_fault)
        return report

    def _key_chain(self, origin: str, leaves: np.ndarray) -> KeyChain:
        """The key events among the verified entries, checked in order.

        Looked up by the ``kind`` column, which no hash covers. Relabelling a
        rotation only hides a key the checkpoints after it need, which then
        fail; relabelling the pin could make the log look unpinned. So when no
        pin turns up that way, the bodies (which are hashed) are searched too.
        """
        e = t.audit_entries
        # Spelled out as the partial index's own condition, so both databases use it.
        labelled = text(KEY_EVENTS_CONDITION)
        events = self._key_events(leaves, labelled)
        if any(entry["kind"] == PIN_KIND for _, entry in events):
            return KeyChain.from_entries(origin, events)
        marker = literal(b'"kind":"audit.key_', LargeBinary)
        # SQLite's LIKE does not match inside BLOBs; instr does. PostgreSQL's bytea LIKE does.
        if self.store.is_sqlite:
            in_body = func.instr(e.c.body, marker) > 0
        else:
            in_body = e.c.body.op("LIKE", is_comparison=True)(
                literal(b'%"kind":"audit.key_%', LargeBinary)
            )
        return KeyChain.from_entries(origin, self._key_events(leaves, or_(labelled, in_body)))

    def _key_events(self, leaves: np.ndarray, where: Any) -> list[tuple[int, dict[str, Any]]]:
        e = t.audit_entries
        with self.store.read() as conn:
            rows = conn.execute(
                select(e.c.idx, e.c.kind, e.c.body)
                .where(e.c.idx < len(leaves))
                .where(where)
                .order_by(e.c.idx)
            ).all()
        events: list[tuple[int, dict[str, Any]]] = []
        for idx, kind, body in rows:
            if body is None:
                raise KeyChainError(idx, f"the body of a key event ({kind}) has been erased")
            raw = bytes(body)
            if leaf_hash(raw) != leaves[idx].tobytes():
                raise KeyChainError(idx, "body does not match its leaf hash")
            entry = json.loads(raw)
            if isinstance(entry, dict) and entry.get("kind") in KEY_KINDS:
                events.append((int(idx), entry))
        return events

    def _checkpoint_rows_fault(self) -> tuple[str, int] | None:
        """A checkpoint row deleted: the head names the latest, each row its predecessor."""
        cp = t.audit_checkpoints
        with self.store.read() as conn:
            signed = int(conn.execute(select(t.audit_head.c.signed_size)).scalar_one())
            rows = [
                (int(r[0]), None if r[1] is None else int(r[1]))
                for r in conn.execute(select(cp.c.size, cp.c.previous).order_by(cp.c.size))
            ]
        latest = rows[-1][0] if rows else 0
        if signed > latest:
            return (
                f"the checkpoint at size {signed} is missing (the log head records it as the "
                f"latest; the latest stored is at size {latest})",
                latest,
            )
        before: int | None = None
        for size, previous in rows:
            if previous is not None and (before is None or previous > before):
                return (
                    f"the checkpoint at size {previous} is missing "
                    f"(the one at size {size} follows it)",
                    previous,
                )
            if previous is not None and before is not None and previous < before:
                return (
                    f"the checkpoint at size {before} is not one the log made "
                    f"(the one at size {size} follows the one at size {previous})",
                    before,
                )
            before = size
        return None

    def _sqlite_file(self) -> str | None:
        url = self.store.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return str(url.database)

    def _read_driver(self, redacted: list[int], scan: LogScan | None) -> _Scanned:
        """Entries through the SQLAlchemy connection's own DBAPI cursor (any backend)."""
        chunks: list[np.ndarray] = []
        checked = 0
        fault: tuple[str, int | None] | None = None
        with self.store.read(snapshot=True) as conn:
            head = int(conn.execute(select(t.audit_head.c.size)).scalar_one())
            checkpoints = [
                (int(r[0]), str(r[1]))
                for r in conn.execute(
                    select(t.audit_checkpoints.c.size, t.audit_checkpoints.c.note).order_by(
                        t.audit_checkpoints.c.size
                    )
                )
            ]
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            where = f"FROM {t.audit_entries.name} WHERE idx >= {mark} AND idx < {mark}"
            columns = "leaf_hash, body" if scan is None else "leaf_hash, body, kind"
            fetch = f"SELECT {columns} {where} ORDER BY idx"
            while fault is None:
                span = (checked, checked + _VERIFY_FETCH)
                # The driver's own cursor: plain tuples, no result-row wrappers.
                cursor = conn.connection.cursor()
                try:
                    cursor.execute(fetch, span)
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
                gap = None
                if len(rows) < _VERIFY_FETCH:
                    # Short: the end of the log, or a hole. Indexes are a primary
                    # key, so only then are they worth reading.
                    ids = [
                        r[0] for r in conn.exec_driver_sql(f"SELECT idx {where} ORDER BY idx", span)
                    ]
                    gap = _first_gap(ids, checked)
                    if gap is None and not rows:
                        break
                good, fault = _check_rows(rows, checked, redacted, gap, scan)
                chunks.append(good)
                checked += len(good)
                if gap is None and len(rows) < _VERIFY_FETCH:
                    break
            if scan is not None:
                from .state import read_tables

                scan.tables = read_tables(
                    lambda sql: _fetch_all(conn, sql), sqlite=conn.dialect.name == "sqlite"
                )
        return head, checkpoints, chunks, fault

    def _read_arrow(self, path: str, redacted: list[int], scan: LogScan | None) -> _Scanned:
        """SQLite entries as Arrow batches (ADBC): no Python object per row.

        Head, checkpoints and entries are read in one transaction of one
        connection, so they come from one snapshot of the WAL.
        """
        import adbc_driver_sqlite.dbapi as adbc

        chunks: list[np.ndarray] = []
        fault: tuple[str, int | None] | None = None
        checked = 0

        def fetch(sql: str) -> list[tuple[Any, ...]]:
            # Column-wise through Arrow: ADBC's own fetchall builds each row in Python.
            cursor.execute(sql)
            columns = [c.to_pylist() for c in cursor.fetch_arrow_table().columns]
            return list(zip(*columns, strict=True))

        with adbc.connect(path) as conn, conn.cursor() as cursor:
            cursor.execute(f"SELECT size FROM {t.audit_head.name} WHERE id = 1")
            row = cursor.fetchone()
            if row is None:
                raise IntegrityError("audit log: the head row is missing")
            head = int(row[0])
            cursor.execute(f"SELECT size, note FROM {t.audit_checkpoints.name} ORDER BY size")
            checkpoints = [(int(r[0]), str(r[1])) for r in cursor.fetchall()]
            if scan is not None:
                from .state import read_tables

                scan.tables = read_tables(fetch, sqlite=True)
            columns = "idx, leaf_hash, body" if scan is None else "idx, leaf_hash, body, kind"
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cursor.execute(f"SELECT {columns} FROM {t.audit_entries.name} ORDER BY idx")
            for batch in cursor.fetch_record_batch():
                good, fault = _check_arrow_batch(batch, checked, redacted)
                kind_fault = scan and scan.take_arrow(batch, checked, len(good))
                if kind_fault:  # within the sound rows, so before any other fault
                    fault = kind_fault
                chunks.append(good)
                checked += len(good)
                if fault is not None:
                    break
        return head, checkpoints, chunks, fault


def _fetch_all(conn: Connection, sql: str) -> list[tuple[Any, ...]]:
    """All rows through the driver's own cursor: plain tuples, no result-row wrappers."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


_Scanned = tuple[int, list[tuple[int, str]], list["np.ndarray"], tuple[str, int | None] | None]
_VERIFY_FETCH = 100_000


def _arrow_reader_available() -> bool:
    try:
        import adbc_driver_sqlite.dbapi  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _first_gap(indexes: list[int], start: int) -> int | None:
    """The first index missing from ``indexes`` (which should be start, start+1, …)."""
    if indexes == list(range(start, start + len(indexes))):
        return None
    for expected, idx in enumerate(indexes, start):
        if idx != expected:
            return expected
    return None


def _check_rows(
    rows: Sequence[Any],
    start: int,
    redacted: list[int],
    gap: int | None,
    scan: LogScan | None,
) -> tuple[np.ndarray, tuple[str, int | None] | None]:
    """Check (leaf, body[, kind]) rows from index ``start``, with a hole at ``gap`` if any."""
    import numpy as np

    good = len(rows) if gap is None else gap - start
    rows = rows[:good]
    width = 2 if scan is None else 3
    columns = [list(col) for col in zip(*rows, strict=True)] if rows else [[]] * width
    leaves, bodies, kinds = columns[0], columns[1], columns[-1]
    if any(len(leaf) != 32 for leaf in leaves):
        bad = next(i for i, leaf in enumerate(leaves) if len(leaf) != 32)
        return _stored_leaves(leaves[:bad]), (
            f"entry {start + bad}: stored leaf hash is not 32 bytes",
            start + bad,
        )
    stored = _stored_leaves(leaves)
    if any(isinstance(b, str) for b in bodies):  # a body written as text: hash its bytes
        bodies = [b.encode("utf-8", "surrogateescape") if isinstance(b, str) else b for b in bodies]
    if None in bodies:  # redacted entries: no body, the stored leaf stands
        present = np.array([b is not None for b in bodies], dtype=bool)
        raw = [b"" if b is None else b for b in bodies]
    else:
        present, raw = np.ones(good, dtype=bool), bodies
    offsets = np.zeros(good + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, raw), dtype=np.int64, count=good), out=offsets[1:])
    data = np.frombuffer(b"".join(raw) or b"\0", dtype=np.uint8)
    ok, fault = _check_arrays(
        stored, data, offsets, present, start, redacted, lambda i: bytes(bodies[i])
    )
    n = len(ok)
    kind_fault = scan and scan.take_rows(start, leaves[:n], bodies[:n], kinds[:n])
    if kind_fault:  # within the sound rows, so before any other fault
        return ok, kind_fault
    if fault is None and gap is not None:
        fault = (f"entry {gap} is missing", gap)
    return ok, fault


def _stored_leaves(leaves: Sequence[bytes]) -> np.ndarray:
    import numpy as np

    return np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(-1, 32)


def _check_arrow_batch(
    batch: Any, start: int, redacted: list[int]
) -> tuple[np.ndarray, tuple[str, int] | None]:
    """Check one Arrow batch of (idx, leaf_hash, body), reading buffers directly."""
    import numpy as np

    idx = batch.column(0).to_numpy(zero_copy_only=False)
    good, gap = len(idx), None
    expected = np.arange(start, start + good)
    if not np.array_equal(idx, expected):
        first = int(np.flatnonzero(idx != expected)[0])
        good, gap = first, start + first
    leaf_col, body_col = batch.column(1).slice(0, good), batch.column(2).slice(0, good)
    leaf_offsets = _arrow_offsets(leaf_col)
    lengths = np.diff(leaf_offsets)
    if np.any(lengths != 32):
        bad = int(np.flatnonzero(lengths != 32)[0])
        stored = _stored_leaves([leaf_col[i].as_py() for i in range(bad)])
        return stored, (f"entry {start + bad}: stored leaf hash is not 32 bytes", start + bad)
    leaf_data = np.frombuffer(leaf_col.buffers()[2], dtype=np.uint8)
    stored = leaf_data[leaf_offsets[0] : leaf_offsets[-1]].reshape(-1, 32)
    body_offsets = _arrow_offsets(body_col)
    body_buf = body_col.buffers()[2]
    data = (
        np.frombuffer(body_buf, dtype=np.uint8) if body_buf is not None else np.zeros(1, np.uint8)
    )
    present = body_col.is_valid().to_numpy(zero_copy_only=False)
    ok, fault = _check_arrays(
        stored, data, body_offsets, present, start, redacted, lambda i: body_col[i].as_py()
    )
    if fault is None and gap is not None:
        fault = (f"entry {gap} is missing", gap)
    return ok, fault


def _arrow_offsets(col: Any) -> np.ndarray:
    import numpy as np

    raw = np.frombuffer(col.buffers()[1], dtype=np.int32)
    return raw[col.offset : col.offset + len(col) + 1].astype(np.int64)


def _check_arrays(
    stored: np.ndarray,
    data: np.ndarray,
    offsets: np.ndarray,
    present: np.ndarray,
    start: int,
    redacted: list[int],
    body_of: Any,
) -> tuple[np.ndarray, tuple[str, int] | None]:
    """Leaves recomputed in one native loop (0x00 ‖ body), indexes parsed by a compiled
    scan, both compared as arrays; a fault is then named from the first bad row."""
    good = len(stored)
    import numpy as np

    from .._native.hashing import sha256_many
    from .._native.jsonscan import claimed_indexes

    computed = sha256_many(data, offsets, prefix=b"\x00")
    claimed = claimed_indexes(data, offsets)
    bad = present & (
        np.any(computed != stored, axis=1) | (claimed != np.arange(start, start + good))
    )
    fault: tuple[str, int] | None = None
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        idx = start + i
        body = bytes(body_of(i))
        if leaf_hash(body) != stored[i].tobytes():
            fault = (f"entry {idx}: body does not match its leaf hash", idx)
        elif (claim := _claimed_index(body)) is None:
            fault = (f"entry {idx}: body is not a log entry", idx)
        else:
            fault = (f"entry {idx}: holds the body of entry {claim} (rows moved)", idx)
        good = i
    redacted.extend(start + i for i in np.flatnonzero(~present[:good]).tolist())
    return stored[:good], fault


def _claimed_index(body: bytes) -> int | None:
    """The top-level "index" of a canonical entry, without parsing the whole body.

    Keys are sorted, so the top level ends ``…,"index":N,"kind":"…"}``; inside
    the kind string a quote would be escaped, so the last match is the real one.
    """
    at = body.rfind(b',"index":')
    if at < 0:
        return None
    end = body.find(b",", at + 9)
    try:
        return int(body[at + 9 : end])
    except ValueError:
        return None


def _label(key: VerifierKey) -> str:
    return f"{key.name}+{key.key_id}"


def _not_pinned(key: VerifierKey, pinned: VerifierKey) -> str:
    return (
        f"signing key {_label(key)} is not the key the audit log pins ({_label(pinned)}); "
        "a new key comes in with `trainguard audit rotate-key`"
    )


def _check_checkpoint(
    note: str, size: int, root: bytes, verifier: VerifierKey | None, origin: str
) -> str | None:
    from .note import parse_body

    try:
        cp = verifier.verify(note) if verifier else parse_body(note.partition("\n\n")[0] + "\n")
    except IntegrityError as exc:
        return str(exc).removeprefix("checkpoint: ")
    if cp.origin != origin:
        return f"origin {cp.origin!r} is not this log's ({origin!r})"
    if cp.size != size:
        return f"note says size {cp.size}"
    if cp.root != root:
        return (
            "signed root "
            + base64.b64encode(cp.root).decode()
            + " does not match the recomputed root"
        )
    return None


def _seen_checkpoint(note: str | None) -> Checkpoint | None:
    if note is None:
        return None
    try:
        return parse_body(note.partition("\n\n")[0] + "\n")
    except IntegrityError as exc:
        raise InputError(
            f"the checkpoint seen before: {str(exc).removeprefix('checkpoint: ')}"
        ) from None


def _trusted_keys(
    chain: KeyChain, verifier: VerifierKey | None, source: str
) -> tuple[KeyChain | None, str | None]:
    """The keys to check checkpoints with, or why the caller's key is refused."""
    if chain.pinned:
        if verifier is not None and not chain.holds(verifier):
            return chain, (
                f"{source} {_label(verifier)} is not a key this log pins ({chain.describe()})"
            )
        return chain, None
    if verifier is None:
        return None, None
    # A log from before pinning: the caller's key stands in for the pin.
    return KeyChain([KeyEvent(0, PIN_KIND, verifier, DEFAULT_MAX_UNSIGNED)]), None


def _roots_at(leaves: np.ndarray, sizes: Sequence[int]) -> dict[int, bytes]:
    frontier, roots = MerkleFrontier(), {}
    for size in sorted(set(sizes)):
        frontier.extend(leaves[frontier.size : size])
        roots[size] = frontier.root()
    return roots


def _check_seen(
    seen: Checkpoint,
    note: str,
    origin: str,
    root: bytes | None,
    size: int,
    keys: KeyChain | None,
    stored: set[int],
) -> str | None:
    """Is the log still the one that showed ``seen``? (RFC 9162 consistency, checked
    by recomputing the root at the old size from the verified leaves.)"""
    if seen.origin != origin:
        return f"the checkpoint seen before is for log {seen.origin!r}, not this one ({origin!r})"
    if root is None:
        return (
            f"log shrank: a checkpoint seen before signs {seen.size} entries, "
            f"the log now holds {size}"
        )
    if root != seen.root:
        return (
            f"log rewritten: its first {seen.size} entries no longer hash to the root "
            "of the checkpoint seen before"
        )
    if keys is not None:
        key = keys.key_for(seen.size)
        try:
            key.verify(note)
        except IntegrityError:
            return (
                f"the checkpoint seen before is not signed by {_label(key)}, "
                f"the log's key at size {seen.size}"
            )
    if seen.size not in stored:
        return f"the checkpoint at size {seen.size} seen before is missing from the store"
    return None


def _coverage_fault(
    keys: KeyChain, signed: int, size: int, any_checkpoint: bool
) -> tuple[str, int] | None:
    """Entries the signed checkpoints leave uncovered, beyond what the pin allows."""
    if size and not any_checkpoint:
        return (
            f"no signed checkpoint: entries 0..{size - 1} are not covered ({keys.describe()})",
            0,
        )
    if size - signed > keys.max_unsigned:
        return (
            f"entries {signed}..{size - 1} are not covered by a signed checkpoint "
            f"(the log allows at most {keys.max_unsigned})",
            signed,
        )
    return None
