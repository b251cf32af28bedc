"""Consent: events recorded for the caller's tenant, listed, and what they cover."""

from __future__ import annotations

from typing import Any

from ...decision.identity import check_subject
from ...timeutil import now_utc, parse_instant
from ..access import CONSENT_READ, Principal
from ..consent import events_from_body, record_consent
from ..consent_state import consent_state
from .base import Base


class ConsentOps(Base):
    def add_consent(
        self, who: Principal, body: bytes, allow_unmatched: bool = False
    ) -> dict[str, Any]:
        """Events as ``trainguard consent import`` reads them; all of the caller's tenant."""
        events = events_from_body(self.store, body)
        added, present = record_consent(who, self.store, events, allow_unmatched=allow_unmatched)
        return {
            "recorded": added,
            "already_on_record": present,
            "ids": [e.event_id for e in events],
        }

    def consent_events(self, who: Principal, subject: str | None = None) -> list[dict[str, Any]]:
        mine = who.own_tenant(*CONSENT_READ)
        if subject is not None:
            check_subject(subject, "subject")
        events = self.context().ledger.tenant_events(mine)
        return [
            {"id": s.id, **s.event.canonical()}
            for s in events
            if subject is None or s.event.subject == subject
        ]

    def consent_state(self, who: Principal, subject: str, at: str | None = None) -> dict[str, Any]:
        mine = who.own_tenant(*CONSENT_READ)
        check_subject(subject, "subject")
        when = parse_instant(at, "at") if at else now_utc()
        ctx = self.context()
        return consent_state(ctx.ledger.tenant_events(mine), mine, subject, when, ctx.taxonomy)
