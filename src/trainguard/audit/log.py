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
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numba
import numpy as np
from sqlalchemy import Connection, insert, select, update

from ..canonical import canonical_json_many
from ..errors import ConflictError, IntegrityError, NotFoundError
from ..hashing import sha256_many
from ..store import schema as t
from ..timeutil import format_instant, now_utc, to_micros
from .collect import REDACTED, LogScan
from .merkle import MerkleFrontier, MerkleTree, leaf_hash
from .note import Checkpoint, Signer, VerifierKey
from .state import check_state, read_tables, redaction_record, redaction_refused

if TYPE_CHECKING:
    from ..store.store import Store

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

    def fail(self, problem: str, index: int | None = None) -> VerifyReport:
        self.ok, self.problem, self.bad_index = False, problem, index
        return self


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._tree = MerkleTree()
        self._lock = threading.Lock()

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
        # Row lock on PostgreSQL; on SQLite the write transaction already holds the lock.
        size = conn.execute(
            select(t.audit_head.c.size).where(t.audit_head.c.id == 1).with_for_update()
        ).scalar_one()
        stamp = format_instant(at or now_utc())
        bodies = canonical_json_many(
            [
                {"index": size + i, "kind": kind, "at": stamp, "data": data}
                for i, (kind, data) in enumerate(items)
            ]
        )
        rows = [
            (size + i, leaf_hash(body), kind, body)
            for i, ((kind, _), body) in enumerate(zip(items, bodies, strict=True))
        ]
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter
        # processing cost as much as canonicalizing the entries.
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO {t.audit_entries.name} (idx, leaf_hash, kind, body) "
            f"VALUES ({mark}, {mark}, {mark}, {mark})",
            rows,
        )
        conn.execute(
            update(t.audit_head).where(t.audit_head.c.id == 1).values(size=size + len(rows))
        )
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
        """Sign the current tree head and store the note."""
        tree = self.tree()
        note = signer.sign(Checkpoint(self.origin(), tree.size, tree.root()))
        with self.store.write() as conn:
            exists = conn.execute(
                select(t.audit_checkpoints.c.note).where(t.audit_checkpoints.c.size == tree.size)
            ).scalar()
            if exists is None:
                conn.execute(
                    insert(t.audit_checkpoints).values(
                        size=tree.size,
                        root=tree.root(),
                        note=note,
                        created_at_us=to_micros(now_utc()),
                    )
                )
            else:
                note = exists
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

    def verify(self, verifier: VerifierKey | None, *, state: bool = True) -> VerifyReport:
        """Recompute every leaf and root; check every checkpoint. Names the first bad index.

        Rows are checked a chunk at a time: leaves hashed in one native loop,
        indexes parsed by a compiled scan, compared as arrays; only when a chunk
        fails is it walked row by row to name the first bad index. Roots at
        checkpoint sizes come from a frontier fed with the leaf array. A
        checkpoint at size s covers entries before s, so it is judged before
        any fault at index ≥ s.
        """
        report = VerifyReport()
        origin = self.origin()
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
        frontier, done = MerkleFrontier(), 0
        for size, note in checkpoints:
            if size > size_stored:
                break
            frontier.extend(leaves[done:size])
            done = size
            problem = _check_checkpoint(note, size, frontier.root(), verifier, origin)
            if problem:
                return report.fail(f"checkpoint at size {size}: {problem}", max(size - 1, 0))
            report.checkpoints += 1
        if fault is not None:
            return report.fail(*fault)
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
        if scan is not None:
            # Every entry is sound: now the state tables must be what the log says.
            with _collector_paused():
                state_fault = check_state(scan)
            if state_fault is not None:
                return report.fail(*state_fault)
        return report

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
                scan.tables = read_tables(lambda sql: _fetch_all(conn, sql))
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
                scan.tables = read_tables(fetch)
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


_Scanned = tuple[int, list[tuple[int, str]], list[np.ndarray], tuple[str, int | None] | None]
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
    return np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(-1, 32)


def _check_arrow_batch(
    batch: Any, start: int, redacted: list[int]
) -> tuple[np.ndarray, tuple[str, int] | None]:
    """Check one Arrow batch of (idx, leaf_hash, body), reading buffers directly."""
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
    computed = sha256_many(data, offsets, prefix=b"\x00")
    claimed = _claimed_indexes(data, offsets)
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


@numba.njit(cache=True)
def _claimed_indexes(data: Any, offsets: Any) -> Any:  # pragma: no cover - compiled
    """:func:`_claimed_index` for every message ``data[offsets[i]:offsets[i+1]]`` (−1: none)."""
    pattern = np.array([44, 34, 105, 110, 100, 101, 120, 34, 58], dtype=np.uint8)  # ,"index":
    out = np.full(offsets.shape[0] - 1, -1, dtype=np.int64)
    for i in range(offsets.shape[0] - 1):
        lo, hi = offsets[i], offsets[i + 1]
        at = hi - 9
        while at >= lo:
            match = True
            for k in range(9):
                if data[at + k] != pattern[k]:
                    match = False
                    break
            if match:
                break
            at -= 1
        if at < lo:
            continue
        value, digits, j = 0, 0, at + 9
        while j < hi and 48 <= data[j] <= 57 and digits < 18:
            value = value * 10 + (data[j] - 48)
            digits += 1
            j += 1
        if digits and j < hi and data[j] == 44:
            out[i] = value
    return out


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
