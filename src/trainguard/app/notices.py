"""Notices: rendered from a version of the terms, served to a person, acknowledged
by them, and listed: the operations behind ``trainguard notice`` and
``/v1/notices``.

Recording an event writes its row and its ``notice.served`` or
``notice.acknowledged`` entry (and, the first time a notice is served, the
notice itself as ``notice.stored``) in one transaction, whoever asks. A key
records and reads its own tenant's events only; the local operator any
tenant's. Notices themselves are the terms in plain language, which any key
may read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..decision.identity import check_subject, check_tenant
from ..errors import InputError, NotFoundError
from .access import NOTICE_READ, NOTICE_WRITE, FieldNotFound, Principal

if TYPE_CHECKING:
    from ..decision.policy import PolicyVersion
    from ..explain.notice_events import NoticeEvent
    from ..explain.notices import Notice
    from ..store import Store


@dataclass(frozen=True)
class Fields:
    """How an adapter names the inputs, for its error messages."""

    notice_id: str = "notice_id"
    tenant: str = "tenant"
    subject: str = "subject"
    audience: str = "audience"


# What :func:`..explain.notices.notice_id` makes: anything else names no notice,
# and goes no further than this (a NUL, say, is no text PostgreSQL can compare).
NOTICE_ID = re.compile(r"ntc-[0-9a-f]{24}")

HTTP_FIELDS = Fields()
CLI_FIELDS = Fields("NOTICE_ID", "--tenant", "--subject", "--audience")


def render(
    store: Store, version: PolicyVersion, audience: str, fields: Fields = HTTP_FIELDS
) -> Notice:
    """The notice of ``version`` for ``audience`` (participant or admin), with its id."""
    from ..explain.notices import AUDIENCES, build_notice

    if audience not in AUDIENCES:
        raise InputError(f"{fields.audience} {audience!r}: use {' or '.join(AUDIENCES)}")
    return build_notice(version, store.taxonomy(), audience)


def record(
    who: Principal,
    store: Store,
    kind: str,
    notice_id: str,
    tenant: str | None,
    subject: str,
    at: datetime | None = None,
    fields: Fields = HTTP_FIELDS,
) -> tuple[NoticeEvent, bool]:
    """Record that ``subject`` of the tenant was served, or acknowledged, a notice
    (``kind``: served or acknowledged): the event, and whether it was new."""
    from ..explain.notice_events import record_notice_event

    mine = check_tenant(who.acting_for(tenant, *NOTICE_WRITE, field=fields.tenant), fields.tenant)
    check_subject(subject, fields.subject)
    if not NOTICE_ID.fullmatch(notice_id):
        raise FieldNotFound(
            fields.notice_id,
            f"notice {notice_id!r}: no notice of a stored policy version has this id",
        )
    try:
        return record_notice_event(store, notice_id, kind, mine, subject, at)
    except NotFoundError as exc:
        raise FieldNotFound(fields.notice_id, str(exc)) from None


def events(
    who: Principal,
    store: Store,
    tenant: str | None = None,
    subject: str | None = None,
    fields: Fields = HTTP_FIELDS,
) -> list[tuple[NoticeEvent, Notice]]:
    """Notices served and acknowledged, in the order they were recorded, each with
    the notice: a key's tenant's (a tenant the request names must be that one);
    the local operator's, the named tenant's or everyone's."""
    from ..explain.notice_events import notice_events, stored_notices

    if who.is_local():
        mine = tenant
    else:
        mine = who.own_tenant(*NOTICE_READ)
        who.check_tenant(tenant, fields.tenant)
    if mine is not None:
        check_tenant(mine, fields.tenant)
    if subject is not None:
        check_subject(subject, fields.subject)
    found = notice_events(store, mine, subject)
    notices = stored_notices(store)
    return [(e, notices[e.notice_id]) for e in found]


def event_json(event: NoticeEvent, notice: Notice) -> dict[str, Any]:
    """An event as ``notice list --json`` and ``/v1/notices/events`` show it."""
    return {**event.to_json(), "policy_version": notice.policy_version}
