"""The application layer: each operation with its audit entry, for the HTTP
service and the CLI alike (:class:`Application`), who may do it
(:mod:`.access`), the API keys that say who is asking (:mod:`.apikeys`), and
the decision context kept current from the audit log (:mod:`.context`).

Who may do what is light and loads with the package; the rest loads on first
use, so a command that only needs the roles does not import the store."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .access import ROLES, TENANT_ROLES, Forbidden, Principal, Unauthenticated

if TYPE_CHECKING:
    from .apikeys import ApiKey, create_key, list_keys, revoke_key
    from .context import ContextCache
    from .decisions import BatchColumns
    from .service import Application

_HOMES = {
    "ApiKey": "apikeys",
    "create_key": "apikeys",
    "list_keys": "apikeys",
    "revoke_key": "apikeys",
    "ContextCache": "context",
    "Application": "service",
    "BatchColumns": "decisions",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{home}", __name__), name)


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
