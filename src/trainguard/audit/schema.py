"""The audit log's own tables, and the names of the state tables it is held to.

The store's schema (trainguard.store.schema) builds on this one: it takes the
``metadata`` below, which already holds the log's three tables, and adds the
state tables under the names given here. So the audit package reads and checks
the database without importing the store, and the dependency runs one way
(store → audit). The migrations create the same tables; a test compares them.

Times are integer microseconds since the epoch, UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from . import names

metadata = MetaData()

# The log's key events (trainguard.audit.keys), as the partial index states them.
KEY_EVENTS_CONDITION = "kind IN ('audit.key_pinned', 'audit.key_rotated')"

audit_entries = Table(
    names.AUDIT_ENTRIES,
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("redacted_at_us", BigInteger, nullable=True),
    # Only the key events (migration 0004 makes it partial, WHERE KEY_EVENTS_CONDITION,
    # on both databases): verification finds them without a scan. The condition is
    # not repeated here, where nothing creates tables from: naming it for PostgreSQL
    # would load that dialect into every process, SQLite's included.
    Index("ix_audit_key_events", "idx"),
)

audit_checkpoints = Table(
    names.AUDIT_CHECKPOINTS,
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    # The Merkle frontier at this size (the next checkpoint extends it instead
    # of rereading every leaf) and the size of the checkpoint before this one
    # (so a deleted checkpoint leaves a gap that verification names).
    Column("frontier", LargeBinary, nullable=True),
    Column("previous", BigInteger, nullable=True),
)

# One row: the log's size, locked by the single writer (SELECT … FOR UPDATE on
# PostgreSQL, BEGIN IMMEDIATE on SQLite) so indexes are assigned without gaps.
audit_head = Table(
    names.AUDIT_HEAD,
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    # The size of the latest checkpoint: deleting that checkpoint's row alone
    # leaves the head pointing at nothing.
    Column("signed_size", BigInteger, nullable=False, server_default="0"),
)

# The state tables `audit verify` replays from the log (trainguard.audit.state).
# Their columns are the store's; the store defines each table under this name.
SETTINGS = names.SETTINGS
POLICY_VERSIONS = names.POLICY_VERSIONS
TENANT_FAMILIES = names.TENANT_FAMILIES
TAXONOMY_KEYS = names.TAXONOMY_KEYS
CONSENT_EVENTS = names.CONSENT_EVENTS
MODELS = names.MODELS
MODEL_MANIFESTS = names.MODEL_MANIFESTS
NOTICES = names.NOTICES
NOTICE_EVENTS = names.NOTICE_EVENTS
API_KEYS = names.API_KEYS
STATE_TABLES = (
    SETTINGS,
    POLICY_VERSIONS,
    TENANT_FAMILIES,
    TAXONOMY_KEYS,
    CONSENT_EVENTS,
    MODELS,
    MODEL_MANIFESTS,
    NOTICES,
    NOTICE_EVENTS,
    API_KEYS,
)
