"""The registry of customer content: a tenant's items added, listed and removed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...errors import NotFoundError
from ..access import REGISTRY_READ, REGISTRY_WRITE, FieldNotFound, Principal
from ..registry import add_items, added_json, open_registry, remove_item
from .base import Base


class RegistryOps(Base):
    def registry_add(
        self, who: Principal, items: Sequence[tuple[str, str, str | None]]
    ) -> dict[str, Any]:
        reg = open_registry(self.registry_path, self.ring, self.store)
        result = add_items(who, reg, who.tenant, items)
        assert who.tenant is not None  # add_items refused every principal but a tenant's
        return added_json(who.tenant, result, reg.last_audit_entry)

    def registry_items(self, who: Principal) -> list[dict[str, Any]]:
        mine = who.own_tenant(*REGISTRY_READ)
        reg = self._registry()
        if not reg.exists():
            return []
        return [
            {"id": i.id, "category": i.category, "ngrams": i.ngrams, "shingles": i.shingles}
            for i in reg.items().values()
            if i.tenant == mine
        ]

    def registry_remove(self, who: Principal, item_id: str) -> dict[str, Any]:
        reg = open_registry(self.registry_path, self.ring, self.store)
        if not reg.exists():
            who.acting_for(who.tenant, *REGISTRY_WRITE)  # the caller's refusal comes first
            raise NotFoundError(f"registry item {item_id!r} does not exist")
        try:
            item = remove_item(who, reg, who.tenant, item_id)
        except NotFoundError:
            raise FieldNotFound("item_id", f"registry item {item_id!r} does not exist") from None
        return {
            "tenant": who.tenant,
            "id": item.id,
            "removed": True,
            "audit_index": reg.last_audit_entry,
        }
