"""What `trainguard serve --workers N` passes to the server processes it starts.

Each worker builds its own service (its own audit writer and decision cache)
from the same arguments; appends from all of them are serialized by the
store's own lock on the log's head (BEGIN IMMEDIATE on SQLite, a row lock on
PostgreSQL), and each writer brings its cache up to the log, other workers'
entries included, before it logs a decision.
"""

from __future__ import annotations

MAX_WORKERS = 64
WORKER_DB = "TRAINGUARD_SERVE_DB"
WORKER_REGISTRY = "TRAINGUARD_SERVE_REGISTRY"
WORKER_KEYS = "TRAINGUARD_SERVE_KEYS"
