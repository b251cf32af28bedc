"""New log entries as the rows the store keeps, built in one place.

The store's log (audit/log.py, through SQLAlchemy) and the SQLite path of a
single decision (store/lite.py, through sqlite3) both append with these, so the
bytes they write cannot drift apart. Neither loads SQLAlchemy here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..canonical import canonical_json_many
from ..timeutil import format_instant, now_utc
from .merkle import leaf_hash
from .names import AUDIT_ENTRIES, AUDIT_HEAD

Row = tuple[int, bytes, str, bytes]
"""(idx, leaf_hash, kind, body): a row of the entries table."""


def entry_rows(
    size: int, items: Sequence[tuple[str, dict[str, Any]]], at: datetime | None = None
) -> list[Row]:
    """The rows of ``items`` appended to a log of ``size`` entries at ``at`` (default now).

    Each body is canonical JSON ``{"index", "kind", "at", "data"}``: the index
    inside it ties the entry to its position."""
    stamp = format_instant(at or now_utc())
    bodies = canonical_json_many(
        [
            {"index": size + i, "kind": kind, "at": stamp, "data": data}
            for i, (kind, data) in enumerate(items)
        ]
    )
    return [
        (size + i, leaf_hash(body), kind, body)
        for i, ((kind, _), body) in enumerate(zip(items, bodies, strict=True))
    ]


def head_sql(lock: bool) -> str:
    """Read the log's size; ``lock``: FOR UPDATE (PostgreSQL's row lock; on SQLite
    the write transaction, BEGIN IMMEDIATE, already holds the only lock)."""
    return f"SELECT size FROM {AUDIT_HEAD} WHERE id = 1{' FOR UPDATE' if lock else ''}"


def insert_sql(mark: str) -> str:
    """Insert one row of :func:`entry_rows`; ``mark``: the driver's placeholder."""
    return (
        f"INSERT INTO {AUDIT_ENTRIES} (idx, leaf_hash, kind, body) "
        f"VALUES ({mark}, {mark}, {mark}, {mark})"
    )


def move_head_sql(mark: str) -> str:
    """Set the log's size after an append."""
    return f"UPDATE {AUDIT_HEAD} SET size = {mark} WHERE id = 1"
