"""Decisions, as both adapters make and log them: one record (the CLI's
``trainguard decide`` and ``POST /v1/decisions``), or a batch of many for one use
(``POST /v1/decisions/batch``), each made under a given context.

Either way the decision becomes one ``decision`` entry in the audit log, ids and
all. A batch is logged as one entry holding the Merkle root over its decisions, in
order, each leaf the decision's compact JSON with sorted keys. The same bytes
are what the answer lists, so a client can hash what it received and check it
against the logged root. Those bytes are put together from the few distinct
decisions of the batch (the batch engine's codes) and each record's id, not
serialized row by row, and hashed in one native loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ..decision.decide import CoreDecision, Decision, DecisionContext, Record, decide
from ..errors import InputError
from ..timeutil import format_instant
from .access import DECIDE, Principal

if TYPE_CHECKING:
    import pyarrow as pa

    from ..store import Store
    from .journal import Prepared

# numpy, pyarrow and the compiled loops load with the first batch, not with a
# single decision: ``trainguard decide`` starts without them.

MAX_BATCH_RECORDS = 10_000


@dataclass
class BatchColumns:
    """A batch of records, by column (as the batch engine reads them)."""

    id: Sequence[str]
    categories: Sequence[Sequence[str]]
    collected_at: Sequence[str]
    subjects: Sequence[Sequence[str]] | None = None


def one(ctx: DecisionContext, record: Record, use: str, at: datetime | None) -> Prepared[Any]:
    """One decision: its audit entry, and the answer with the entry's index."""
    from .journal import Prepared

    decision = decide(ctx, record, use, at).to_json()
    return Prepared([("decision", decision)], lambda idx: {**decision, "audit_index": idx[0]})


@dataclass(frozen=True)
class BatchAnswer:
    summary: dict[str, Any]  # tenant, use, at, counts and root: the audit entry's data
    audit_index: int
    rows: list[bytes]  # each decision's compact JSON with sorted keys: the Merkle leaves

    def to_bytes(self) -> bytes:
        """The answer as JSON, the rows copied in as they are."""
        head = orjson.dumps({**self.summary, "audit_index": self.audit_index})
        return b"".join((head[:-1], b',"decisions":[', b",".join(self.rows), b"]}"))

    def to_json(self) -> dict[str, Any]:
        return dict(orjson.loads(self.to_bytes()))


def many(
    ctx: DecisionContext, tenant: str, use: str, at: datetime, records: BatchColumns
) -> Prepared[BatchAnswer]:
    """Decisions for a batch of ``tenant``'s records: one audit entry, the batch's root."""
    from .journal import Prepared

    table = batch_table(tenant, records)
    rows, allowed = decision_rows(ctx, table, use, at)
    summary = {
        "tenant": tenant,
        "use": use,
        "at": format_instant(at),
        "records": len(rows),
        "allowed": allowed,
        "denied": len(rows) - allowed,
        "root": merkle_root(rows).hex() if rows else None,
    }
    return Prepared([("decision.batch", summary)], lambda idx: BatchAnswer(summary, idx[0], rows))


def decision_rows(
    ctx: DecisionContext, table: pa.Table, use: str, at: datetime
) -> tuple[list[bytes], int]:
    """Each row's decision as compact JSON with sorted keys — the bytes of
    ``orjson.dumps(row, option=OPT_SORT_KEYS)`` for the rows of ``decide_batch``
    — and how many are allowed."""
    if table.num_rows == 0:
        return [], 0
    import numpy as np

    from ..decision.batch import decide_codes

    codes, decisions = decide_codes(ctx, table, use, at)
    used, inverse = np.unique(codes, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=len(used))
    allowed = sum(int(n) for k, n in zip(used, counts, strict=True) if decisions[int(k)].allowed)
    # The keys in order: allowed, consents | id | policy_at_collection,
    # policy_at_use, reasons, rules. Each distinct decision gives the part
    # before the id and the part after it.
    parts = [_parts(decisions[int(k)]) for k in used]
    heads = [p[0] for p in parts]
    tails = [p[1] for p in parts]
    ids = table.column("id").to_pylist()
    dumps = orjson.dumps
    rows = [heads[c] + dumps(i) + tails[c] for c, i in zip(inverse.tolist(), ids, strict=True)]
    return rows, allowed


def _parts(core: CoreDecision) -> tuple[bytes, bytes]:
    before = orjson.dumps({"allowed": core.allowed, "consents": list(core.consents)})
    after = orjson.dumps(
        {
            "policy_at_collection": (
                core.policy_at_collection.hash if core.policy_at_collection else None
            ),
            "policy_at_use": core.policy_at_use.hash if core.policy_at_use else None,
            "reasons": list(core.reasons),
            "rules": list(core.rules),
        }
    )
    return before[:-1] + b',"id":', b"," + after[1:]


def merkle_root(rows: Sequence[bytes]) -> bytes:
    """The RFC 9162 root over ``rows`` as leaves (SHA-256 of 0x00 ‖ row)."""
    import numpy as np

    from .._native.hashing import sha256_many
    from ..audit.merkle import MerkleFrontier

    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    leaves = sha256_many(b"".join(rows), offsets, prefix=b"\x00")
    tree = MerkleFrontier()
    tree.extend(leaves)
    return tree.root()


def check_batch(records: BatchColumns) -> None:
    n = len(records.id)
    if n > MAX_BATCH_RECORDS:
        raise InputError(f"records.id: {n:,} records; at most {MAX_BATCH_RECORDS:,} a request")
    for name in ("categories", "collected_at", "subjects"):
        col = getattr(records, name)
        if col is not None and len(col) != n:
            raise InputError(f"records.{name}: {len(col):,} values for {n:,} ids")


def batch_table(tenant: str, records: BatchColumns) -> pa.Table:
    import pyarrow as pa

    n = len(records.id)
    columns: dict[str, Any] = {}
    try:
        columns["id"] = pa.array(records.id, pa.string())
        columns["tenant"] = pa.array([tenant] * n, pa.string())
        columns["categories"] = pa.array(records.categories, pa.list_(pa.string()))
        columns["collected_at"] = pa.array(records.collected_at, pa.string())
        if records.subjects is not None:
            columns["subjects"] = pa.array(records.subjects, pa.list_(pa.string()))
    except (pa.ArrowException, UnicodeEncodeError) as exc:
        name = next(
            (k for k in ("id", "categories", "collected_at", "subjects") if k not in columns),
            "records",
        )
        raise InputError(f"records.{name}: {type(exc).__name__}: not text") from None
    return pa.table(columns)


Append = Callable[[str, dict[str, Any]], int]
"""Appends one entry to the audit log and returns its index (the store's own
``audit.record``, or the service's group commit)."""


def decide_and_log(
    who: Principal,
    context: DecisionContext,
    record: Record,
    use: str,
    at: datetime | None,
    append: Append,
) -> tuple[Decision, int]:
    """Decide ``record`` for ``use`` at ``at`` (default: now) and log the decision
    (the CLI's path; the service commits through its journal with :func:`one`).

    A key decides for its own tenant only; the local operator for any."""
    who.acting_for(record.tenant, *DECIDE)
    decision = decide(context, record, use, at)
    # A decision someone asked for is evidence: it goes into the audit log.
    return decision, append("decision", decision.to_json())


def decide_on_store(
    who: Principal, store: Store, record: Record, use: str, at: datetime | None
) -> tuple[Decision, int]:
    """:func:`decide_and_log` through the store's own path: the context read and
    the entry appended in one transaction that holds the log's append lock from
    its start (:meth:`Store.deciding`), so the entry follows exactly the state
    the decision was made on."""
    with store.deciding() as conn:
        context = store.context(conn)
        return decide_and_log(
            who, context, record, use, at, lambda kind, data: store.audit.append(conn, kind, data)
        )


def decide_on_sqlite(
    who: Principal, db: str | None, record: Record, use: str, at: datetime | None
) -> tuple[Decision, int] | None:
    """:func:`decide_and_log` on the SQLite store ``db`` names, without SQLAlchemy
    (see :mod:`trainguard.store.lite`): the same decision and the same entry as
    with the store's context and log. None when the store is not one that path
    knows (PostgreSQL, another schema revision, anything unusual), nothing having
    been written: take the full path then."""
    from ..store.lite import LiteStore, Unusual

    try:
        # Read and logged in one write transaction: see LiteStore.writing.
        with LiteStore.open(db) as lite, lite.writing():
            return decide_and_log(who, lite.context(record.tenant), record, use, at, lite.record)
    except Unusual:
        return None
