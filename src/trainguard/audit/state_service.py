"""The HTTP service's API keys and the notices people were shown, held to the log.

Decisions read neither, but a key row inserted, un-revoked or given another
secret hash opens the service, and a notice event inserted claims someone was
shown terms they never saw. Each of these rows is written in the same
transaction as the entry that logs every column of it (a key's secret only as
the SHA-256 the row keeps, its free-text name only as a SHA-256), so the replay
gives the rows back and any other row is named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from ..canonical import canonical_json
from ..timeutil import format_instant, from_micros
from .collect import (
    APIKEY_CREATED,
    APIKEY_REVOKED,
    NOTICE_EVENT_KINDS,
    NOTICE_STORED,
    Fault,
)
from .rowfaults import changed, deleted, inserted, micros
from .schema import API_KEYS, NOTICE_EVENTS, NOTICES

Row = Sequence[Any]
SERVICE_KINDS = frozenset({APIKEY_CREATED, APIKEY_REVOKED, NOTICE_STORED}) | NOTICE_EVENT_KINDS

QUERIES = {
    "api_keys": f"SELECT id, secret_hash, tenant, role, name, created_at_us, revoked_at_us "
    f"FROM {API_KEYS}",
    "notices": f"SELECT id, hash, policy_version, audience, body, stored_at_us FROM {NOTICES}",
    "notice_events": f"SELECT seq, id, notice_id, kind, tenant, subject, at_us, recorded_at_us "
    f"FROM {NOTICE_EVENTS} ORDER BY seq",
}


def name_digest(name: str) -> str:
    """What the log keeps of a key's name: a label a person typed, not for an append-only log."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


@dataclass
class ServiceState:
    """What the log says these tables hold, each item with the index of its entry."""

    api_keys: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    notices: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    notice_events: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def apply(self, index: int, kind: str, data: dict[str, Any]) -> None:
        if kind in (APIKEY_CREATED, APIKEY_REVOKED):
            # Both entries carry the whole row: the last one for a key is the row.
            self.api_keys[str(data["id"])] = (index, data)
        elif kind == NOTICE_STORED:
            self.notices[str(data["id"])] = (index, data)
        else:
            self.notice_events[str(data["id"])] = (index, data)


def check_api_keys(log: ServiceState, rows: list[Row]) -> Fault | None:
    table = API_KEYS
    stored = {str(r[0]): r for r in rows}
    for key_id, (index, data) in sorted(log.api_keys.items(), key=lambda kv: kv[1][0]):
        row = stored.pop(key_id, None)
        if row is None:
            return deleted(table, key_id, index)
        if "secret_hash" not in data:
            return (
                f"{table} row {key_id}: entry {index} does not log the secret's hash "
                "(a key made before keys were logged in full: revoke it and create another)",
                None,
            )
        revoked = data["revoked_at"]
        expected: list[tuple[str, Any, Any]] = [
            ("secret_hash", row[1], data["secret_hash"]),
            ("tenant", row[2], data["tenant"]),
            ("role", row[3], data["role"]),
            ("name", name_digest(row[4]) if isinstance(row[4], str) else None, data["name_sha256"]),
            ("created_at_us", row[5], micros(str(data["created_at"]))),
            ("revoked_at_us", row[6], micros(str(revoked)) if revoked is not None else None),
        ]
        for column, got, want in expected:
            if got != want:
                return changed(table, key_id, column, index)
    for key_id in sorted(stored):
        return inserted(table, key_id)
    return None


def check_notices(log: ServiceState, rows: list[Row]) -> Fault | None:
    table = NOTICES
    stored = {str(r[0]): r for r in rows}
    for notice_id, (index, data) in sorted(log.notices.items(), key=lambda kv: kv[1][0]):
        row = stored.pop(notice_id, None)
        if row is None:
            return deleted(table, notice_id, index)
        expected: list[tuple[str, Any, Any]] = [
            ("hash", row[1], data["hash"]),
            ("policy_version", row[2], data["policy_version"]),
            ("audience", row[3], data["audience"]),
            ("body", row[4], canonical_json(data["notice"]).decode("utf-8")),
            ("stored_at_us", row[5], micros(str(data["stored_at"]))),
        ]
        for column, got, want in expected:
            if got != want:
                return changed(table, notice_id, column, index)
    for notice_id in sorted(stored):
        return inserted(table, notice_id)
    return None


_EVENT_COLUMNS = ("notice_id", "kind", "tenant", "subject", "at_us", "recorded_at_us")


def check_notice_events(
    log: ServiceState, rows: list[Row], erased_digests: dict[str, int]
) -> Fault | None:
    """Rows by id against the visible entries, the rest against the digests that
    redactions of erased entries logged; then ``seq`` must list them in log order.

    ``erased_digests`` maps the data digest of each erased notice-event entry to
    its index.
    """
    table = NOTICE_EVENTS
    stored = {str(r[1]): r for r in rows}
    matched: list[tuple[int, Any, str]] = []  # (entry index, seq, id)
    for event_id, (index, data) in sorted(log.notice_events.items(), key=lambda kv: kv[1][0]):
        row = stored.pop(event_id, None)
        if row is None:
            return deleted(table, event_id, index)
        want = (
            data["notice_id"],
            data["kind"],
            data["tenant"],
            data["subject"],
            micros(str(data["at"])),
            micros(str(data["recorded_at"])),
        )
        for column, got, expect in zip(_EVENT_COLUMNS, row[2:], want, strict=True):
            if got != expect:
                return changed(table, event_id, column, index)
        matched.append((index, row[0], event_id))
    erased = dict(erased_digests)
    for event_id, row in sorted(stored.items(), key=lambda kv: _order(kv[1][0])):
        digest = _row_digest(row)
        target = erased.pop(digest, None) if digest is not None else None
        if target is None:
            return inserted(table, event_id)
        matched.append((target, row[0], event_id))
    for target in sorted(erased.values()):
        return (
            f"{table} row of redacted entry {target}: deleted, or changed from the digest "
            "its redaction logged",
            None,
        )
    matched.sort(key=lambda m: m[0])
    for before, (index, seq, event_id) in pairwise(matched):
        if _order(seq) <= _order(before[1]):
            return (f"{table} row {event_id}: seq {seq} is out of log order (entry {index})", None)
    return None


def _row_digest(row: Row) -> str | None:
    """The digest of the data the entry that wrote this row logged (None: not a row it wrote)."""
    try:
        data = {
            "id": row[1],
            "notice_id": row[2],
            "kind": row[3],
            "tenant": row[4],
            "subject": row[5],
            "at": format_instant(from_micros(row[6])),
            "recorded_at": format_instant(from_micros(row[7])),
        }
        return hashlib.sha256(canonical_json(data)).hexdigest()
    except (TypeError, ValueError, OverflowError):
        return None


def _order(seq: Any) -> int:
    """A stored seq as an integer; anything else (SQLite stores any type) sorts first."""
    return seq if type(seq) is int else -(2**63)
