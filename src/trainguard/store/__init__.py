"""Storage: SQLite by default, PostgreSQL through a SQLAlchemy URL."""

from .store import DEFAULT_URL, Store, resolve_url

__all__ = ["DEFAULT_URL", "Store", "resolve_url"]
