"""The HTTP service (FastAPI): ``create_app(db, registry, keys)`` returns it;
``trainguard serve`` runs it under uvicorn. Needs the ``server`` extra."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
