"""Storage: SQLite by default, PostgreSQL through a SQLAlchemy URL.

:class:`Store` (and with it SQLAlchemy) loads on first use: the SQLite path of
a single decision (:mod:`.lite`) lives in this package and must not load it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .url import DEFAULT_URL, resolve_url

if TYPE_CHECKING:
    from .store import Store


def __getattr__(name: str) -> Any:
    if name == "Store":
        from .store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DEFAULT_URL", "Store", "resolve_url"]
