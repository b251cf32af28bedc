"""Which tenant an audit entry is about: read from its data, so a tenant's key
can be shown its own entries and nothing else."""

from __future__ import annotations

from typing import Any


def data_tenant(data: object) -> str | None:
    """The tenant named by an entry's data (``tenant``, or a decision's
    ``record.tenant``), or None: platform entries, erased ones."""
    if not isinstance(data, dict):
        return None
    tenant: Any = data.get("tenant")
    if tenant is None and isinstance(data.get("record"), dict):
        tenant = data["record"].get("tenant")
    return tenant if isinstance(tenant, str) else None
