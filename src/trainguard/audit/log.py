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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select, update

from ..canonical import canonical_json_many
from ..errors import IntegrityError, NotFoundError
from ..store import schema as t
from ..timeutil import format_instant, now_utc, to_micros
from .merkle import MerkleTree, leaf_hash
from .note import Checkpoint, Signer, VerifierKey

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

    def append(self, conn: Connection, kind: str, data: dict[str, Any]) -> int:
        """Append one entry inside the caller's write transaction."""
        return self.append_many(conn, [(kind, data)])[0]

    def append_many(
        self, conn: Connection, items: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[int]:
        """Append entries inside the caller's write transaction (one commit for all)."""
        if not items:
            return []
        # Row lock on PostgreSQL; on SQLite the write transaction already holds the lock.
        size = conn.execute(
            select(t.audit_head.c.size).where(t.audit_head.c.id == 1).with_for_update()
        ).scalar_one()
        at = format_instant(now_utc())
        bodies = canonical_json_many(
            [
                {"index": size + i, "kind": kind, "at": at, "data": data}
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

    def redact(self, index: int) -> None:
        """Erase an entry's body; its leaf hash stays, so proofs still hold."""
        with self.store.write() as conn:
            found = conn.execute(
                update(t.audit_entries)
                .where(t.audit_entries.c.idx == index)
                .values(body=None, redacted_at_us=to_micros(now_utc()))
            ).rowcount
        if not found:
            raise NotFoundError(f"audit entry {index} does not exist")

    def verify(self, verifier: VerifierKey | None) -> VerifyReport:
        """Recompute every leaf and root; check every checkpoint. Names the first bad index.

        Rows are checked a chunk at a time with list-wide comparisons, and the
        tree is built level by level; only when a chunk fails is it walked row
        by row to name the first bad index. A checkpoint at size s covers
        entries before s, so it is judged before any fault at index ≥ s.
        """
        report = VerifyReport()
        leaves: list[bytes] = []
        fault: tuple[str, int] | None = None
        origin = self.origin()
        # Millions of short-lived bytes and tuples: the cyclic collector would
        # rescan them again and again and find nothing (none of them form cycles).
        with _collector_paused(), self.store.read() as conn:
            head = int(conn.execute(select(t.audit_head.c.size)).scalar_one())
            checkpoints = conn.execute(
                select(t.audit_checkpoints.c.size, t.audit_checkpoints.c.note).order_by(
                    t.audit_checkpoints.c.size
                )
            ).all()
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            query = (
                f"SELECT idx, leaf_hash, body FROM {t.audit_entries.name} "
                f"WHERE idx >= {mark} ORDER BY idx LIMIT {mark}"
            )
            while fault is None:
                rows = conn.exec_driver_sql(query, (len(leaves), _VERIFY_FETCH)).fetchall()
                if not rows:
                    break
                fault = _check_chunk(rows, len(leaves), leaves, report.redacted)
        tree = MerkleTree(leaves)
        report.size = tree.size
        for size, note in checkpoints:
            if size > tree.size:
                break
            problem = _check_checkpoint(note, size, tree.root(size), verifier, origin)
            if problem:
                return report.fail(f"checkpoint at size {size}: {problem}", max(size - 1, 0))
            report.checkpoints += 1
        if fault is not None:
            return report.fail(*fault)
        if tree.size != head:
            return report.fail(
                f"log head says {head} entries but {tree.size} are stored (truncated)", tree.size
            )
        if report.checkpoints < len(checkpoints):
            size = checkpoints[report.checkpoints][0]
            return report.fail(
                f"checkpoint at size {size} but the log holds only {tree.size} entries (truncated)",
                tree.size,
            )
        return report


_VERIFY_FETCH = 100_000


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


def _check_chunk(
    rows: Sequence[Any], start: int, leaves: list[bytes], redacted: list[int]
) -> tuple[str, int] | None:
    """Check one chunk of rows; extend ``leaves`` with the good prefix. A fault names its index."""
    good = len(rows)
    fault: tuple[str, int] | None = None
    gap = _first_gap([r[0] for r in rows], start)
    if gap is not None:
        good, fault = gap - start, (f"entry {gap} is missing", gap)
    stored = [bytes(r[1]) for r in rows[:good]]
    bodies = [r[2] for r in rows[:good]]
    computed = [
        stored[i] if body is None else _sha256(b"\x00" + body).digest()
        for i, body in enumerate(bodies)
    ]
    claimed = [
        start + i if body is None else _claimed_index(bytes(body)) for i, body in enumerate(bodies)
    ]
    if computed != stored or claimed != list(range(start, start + good)):
        for i in range(good):
            idx = start + i
            if computed[i] != stored[i]:
                good, fault = i, (f"entry {idx}: body does not match its leaf hash", idx)
                break
            if claimed[i] is None:
                good, fault = i, (f"entry {idx}: body is not a log entry", idx)
                break
            if claimed[i] != idx:
                problem = f"entry {idx}: holds the body of entry {claimed[i]} (rows moved)"
                good, fault = i, (problem, idx)
                break
    redacted.extend(start + i for i, body in enumerate(bodies[:good]) if body is None)
    leaves.extend(stored[:good])
    return fault


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
