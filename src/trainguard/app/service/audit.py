"""The audit log over the service: the latest checkpoint and consistency proofs
(any key: they are about no tenant), entries and inclusion proofs (a tenant key:
entries about its tenant only)."""

from __future__ import annotations

from typing import Any

from ...audit.about import data_tenant
from ...errors import NotFoundError
from ..access import FieldNotFound, Principal
from .base import Base


class AuditOps(Base):
    def checkpoint(self, who: Principal) -> str:
        note = self.store.audit.latest_checkpoint()
        if note is None:
            raise NotFoundError(
                "audit log has no checkpoint yet (run `trainguard audit checkpoint`)"
            )
        return note

    def entry(self, who: Principal, index: int) -> dict[str, Any]:
        found = self._visible_entry(who, index)
        return found

    def inclusion_proof(
        self, who: Principal, index: int, size: int | None = None
    ) -> dict[str, Any]:
        self._visible_entry(who, index)
        return self.store.audit.inclusion_proof(index, size)

    def consistency_proof(self, who: Principal, old: int, new: int) -> dict[str, Any]:
        return self.store.audit.consistency_proof(old, new)

    def _visible_entry(self, who: Principal, index: int) -> dict[str, Any]:
        """An entry the caller may read: the operator any, a tenant's key only
        entries about its tenant. Others are answered as missing."""
        missing = FieldNotFound("index", f"audit entry {index} does not exist")
        try:
            found = self.store.audit.entry(index)
        except NotFoundError:
            raise missing from None
        if not who.sees_everything() and entry_tenant(found) != who.tenant:
            raise missing
        return found


def entry_tenant(entry: dict[str, Any]) -> str | None:
    """The tenant an audit entry is about, or None (platform entries, redacted ones)."""
    body = entry.get("entry")
    return data_tenant(body.get("data")) if isinstance(body, dict) else None
