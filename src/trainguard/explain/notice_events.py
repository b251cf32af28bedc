"""The record of notices served to people and acknowledged by them.

Served is not acknowledged, and neither is consent: these rows live in their
own tables, which decisions never read. A consent grant may name the notice
it was given on (``ConsentEvent.notice_id``). Each write appends to the audit
log in the same transaction everything the row holds, so the tables can be
checked against the log.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, insert, select

from ..canonical import canonical_json
from ..decision.identity import check_subject, check_tenant
from ..errors import ConflictError, InputError, NotFoundError
from ..store import schema as t
from ..timeutil import ensure_utc, format_instant, from_micros, now_utc, to_micros
from .notices import AUDIENCES, Notice, build_notice, check_notice

if TYPE_CHECKING:
    from ..store import Store

SERVED, ACKNOWLEDGED = "served", "acknowledged"


@dataclass(frozen=True)
class NoticeEvent:
    """A notice served to, or acknowledged by, one person of one tenant."""

    id: str
    notice_id: str
    kind: str
    tenant: str
    subject: str
    at: datetime
    recorded_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "kind": self.kind,
            "tenant": self.tenant,
            "subject": self.subject,
            "at": format_instant(self.at),
            "recorded_at": format_instant(self.recorded_at),
        }


def event_id(kind: str, notice_id: str, tenant: str, subject: str, at: datetime) -> str:
    """The same event recorded twice has the same id (and is recorded once)."""
    key = {
        "at": format_instant(at),
        "kind": kind,
        "notice_id": notice_id,
        "subject": subject,
        "tenant": tenant,
    }
    return "nev-" + hashlib.sha256(canonical_json(key)).hexdigest()[:24]


def find_notice(store: Store, notice_id: str) -> Notice:
    """A notice already stored, else the notice of a stored version with this id."""
    with store.read() as conn:
        body = conn.execute(select(t.notices.c.body).where(t.notices.c.id == notice_id)).scalar()
    if body is not None:
        return check_notice(json.loads(body))
    taxonomy = store.taxonomy()
    for version in store.policies():
        for audience in AUDIENCES:
            candidate = build_notice(version, taxonomy, audience)
            if candidate.id == notice_id:
                return candidate
    raise NotFoundError(
        f"notice {notice_id!r}: no notice of a stored policy version has this id "
        "(see `trainguard notice render VERSION --format json`)"
    )


def record_notice_event(
    store: Store,
    notice_id: str,
    kind: str,
    tenant: str,
    subject: str,
    at: datetime | None = None,
) -> tuple[NoticeEvent, bool]:
    """Record that ``notice_id`` was served to, or acknowledged by, ``subject`` of
    ``tenant``. Returns the event and whether it was new (False: already on record).

    An acknowledgement needs the notice to have been served to that person at or
    before the time of the acknowledgement.
    """
    if kind not in (SERVED, ACKNOWLEDGED):
        raise InputError(f"notice event kind {kind!r}: use {SERVED} or {ACKNOWLEDGED}")
    check_tenant(tenant, "--tenant")
    check_subject(subject, "--subject")
    when = ensure_utc(at, "--at") if at else now_utc()
    notice = find_notice(store, notice_id)
    eid = event_id(kind, notice.id, tenant, subject, when)
    recorded = now_utc()
    event = NoticeEvent(eid, notice.id, kind, tenant, subject, when, recorded)
    with store.write() as conn:
        existing = conn.execute(
            select(t.notice_events.c.recorded_at_us).where(t.notice_events.c.id == eid)
        ).scalar()
        if existing is not None:
            return NoticeEvent(
                eid, notice.id, kind, tenant, subject, when, from_micros(existing)
            ), False
        if kind == ACKNOWLEDGED:
            _require_served(conn, notice.id, tenant, subject, when)
        _store_notice(store, conn, notice, recorded)
        conn.execute(
            insert(t.notice_events).values(
                id=eid,
                notice_id=notice.id,
                kind=kind,
                tenant=tenant,
                subject=subject,
                at_us=to_micros(when),
                recorded_at_us=to_micros(recorded),
            )
        )
        store.audit.append(conn, f"notice.{kind}", event.to_json())
    return event, True


def notice_events(
    store: Store, tenant: str | None = None, subject: str | None = None
) -> list[NoticeEvent]:
    """Events in the order they were recorded, optionally of one tenant and/or person."""
    q = select(t.notice_events).order_by(t.notice_events.c.seq)
    if tenant is not None:
        q = q.where(t.notice_events.c.tenant == tenant)
    if subject is not None:
        q = q.where(t.notice_events.c.subject == subject)
    with store.read() as conn:
        rows = conn.execute(q).all()
    return [
        NoticeEvent(
            r.id,
            r.notice_id,
            r.kind,
            r.tenant,
            r.subject,
            from_micros(r.at_us),
            from_micros(r.recorded_at_us),
        )
        for r in rows
    ]


def stored_notices(store: Store) -> dict[str, Notice]:
    """Every notice that was served at least once, by id."""
    with store.read() as conn:
        rows = conn.execute(select(t.notices.c.body)).all()
    notices = (check_notice(json.loads(r.body)) for r in rows)
    return {n.id: n for n in notices}


def _store_notice(store: Store, conn: Connection, notice: Notice, when: datetime) -> None:
    found = conn.execute(select(t.notices.c.id).where(t.notices.c.id == notice.id)).first()
    if found is not None:
        return
    body = canonical_json(notice.content).decode("utf-8")
    conn.execute(
        insert(t.notices).values(
            id=notice.id,
            hash=notice.hash,
            policy_version=notice.policy_version,
            audience=notice.audience,
            body=body,
            stored_at_us=to_micros(when),
        )
    )
    store.audit.append(
        conn,
        "notice.stored",
        {
            "id": notice.id,
            "hash": notice.hash,
            "policy_version": notice.policy_version,
            "audience": notice.audience,
            "notice": notice.content,
            "stored_at": format_instant(when),
        },
    )


def _require_served(
    conn: Connection, notice_id: str, tenant: str, subject: str, when: datetime
) -> None:
    served = conn.execute(
        select(t.notice_events.c.at_us).where(
            t.notice_events.c.notice_id == notice_id,
            t.notice_events.c.kind == SERVED,
            t.notice_events.c.tenant == tenant,
            t.notice_events.c.subject == subject,
        )
    ).scalars()
    first = min(served, default=None)
    if first is None:
        raise ConflictError(
            f"notice {notice_id}: never served to {subject!r} of tenant {tenant!r}; "
            "record `trainguard notice serve` first"
        )
    if first > to_micros(when):
        raise ConflictError(
            f"notice {notice_id}: acknowledged at {format_instant(when)}, before it was "
            f"first served to {subject!r} ({format_instant(from_micros(first))})"
        )
