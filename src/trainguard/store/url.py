"""Which database ``--db`` names: a URL, or a plain path for SQLite.

Apart from the store so that the SQLite path of a single decision
(store/lite.py) reads ``--db`` exactly as the store does without loading
SQLAlchemy.
"""

from __future__ import annotations

import os

from ..errors import InputError

DEFAULT_URL = "sqlite:///trainguard.db"


def resolve_url(db: str | None) -> str:
    """``--db`` / ``TRAINGUARD_DB`` / ./trainguard.db, accepting plain paths for SQLite."""
    raw = db or os.environ.get("TRAINGUARD_DB") or DEFAULT_URL
    if "://" not in raw:
        if "?" in raw or "#" in raw:
            # In a URL these start a query or a fragment: the file opened would not
            # be the one named.
            raise InputError(f"database {raw!r}: a store path may not hold '?' or '#'")
        return f"sqlite:///{raw}"
    if raw.startswith(("postgresql://", "postgres://")):
        # psycopg 3 is the driver we ship with the postgres extra.
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw
