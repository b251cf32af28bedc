"""The application layer: each operation with its audit entry, for the HTTP
service and the CLI alike (:class:`Application`), who may do it
(:mod:`.access`), the API keys that say who is asking (:mod:`.apikeys`), and
the decision context kept current from the audit log (:mod:`.context`)."""

from __future__ import annotations

from .access import ROLES, TENANT_ROLES, Forbidden, Principal, Unauthenticated
from .apikeys import ApiKey, create_key, list_keys, revoke_key
from .context import ContextCache
from .decisions import BatchColumns
from .service import Application

__all__ = [
    "ROLES",
    "TENANT_ROLES",
    "ApiKey",
    "Application",
    "BatchColumns",
    "ContextCache",
    "Forbidden",
    "Principal",
    "Unauthenticated",
    "create_key",
    "list_keys",
    "revoke_key",
]
