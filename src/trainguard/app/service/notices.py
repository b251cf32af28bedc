"""Notices: rendered from a version of the terms (any key), served and
acknowledged (a consent screen, with its tenant's key), and listed."""

from __future__ import annotations

from typing import Any

from ...explain.notices import Notice
from ...timeutil import parse_instant
from .. import notices
from ..access import Principal
from .base import Base


class NoticeOps(Base):
    def notice(self, who: Principal, ref: str, audience: str) -> Notice:
        """The notice of the version ``ref`` for ``audience``, with its id."""
        version = self.context().policies.resolve(ref).version
        return notices.render(self.store, version, audience)

    def record_notice(
        self,
        who: Principal,
        kind: str,
        notice_id: str,
        subject: str,
        at: str | None = None,
        tenant: str | None = None,
    ) -> dict[str, Any]:
        """Record that the notice was served to, or acknowledged by, ``subject``."""
        when = parse_instant(at, "at") if at else None
        event, added = notices.record(who, self.store, kind, notice_id, tenant, subject, when)
        return {**event.to_json(), "recorded": added}

    def notice_events(
        self, who: Principal, subject: str | None = None, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        return [
            notices.event_json(e, n) for e, n in notices.events(who, self.store, tenant, subject)
        ]
