"""Table definitions the store reads and writes (the migrations create them).

Times are integer microseconds since the epoch, UTC: exact, sortable and the
same on SQLite and PostgreSQL.
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
    UniqueConstraint,
)

metadata = MetaData()

# The audit log's key events (trainguard.audit.keys), as the partial index states them.
KEY_EVENTS_CONDITION = "kind IN ('audit.key_pinned', 'audit.key_rotated')"

settings = Table(
    "tg_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

policy_versions = Table(
    "tg_policy_versions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("family", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("effective_at_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("added_at_us", BigInteger, nullable=False),
    UniqueConstraint("family", "version", name="uq_policy_family_version"),
    UniqueConstraint("family", "effective_at_us", name="uq_policy_family_effective"),
)

tenant_families = Table(
    "tg_tenant_families",
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("family", String(200), nullable=False),
)

taxonomy_keys = Table(
    "tg_taxonomy_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("description", Text, nullable=False),
)

consent_events = Table(
    "tg_consent_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("tenant", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("role", String(32), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("body", Text, nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Index("ix_consent_tenant_at", "tenant", "at_us"),
)

audit_entries = Table(
    "tg_audit_entries",
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
    "tg_audit_checkpoints",
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
    "tg_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    # The size of the latest checkpoint: deleting that checkpoint's row alone
    # leaves the head pointing at nothing.
    Column("signed_size", BigInteger, nullable=False, server_default="0"),
)

models = Table(
    "tg_models",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("trained_at_us", BigInteger, nullable=True),
    Column("registered_at_us", BigInteger, nullable=False),
)

model_manifests = Table(
    "tg_model_manifests",
    metadata,
    Column("model", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("root", String(64), nullable=False),
    Column("use", String(200), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("admitted", BigInteger, nullable=False),
)

# Notices people were shown, by id (their content as canonical JSON), and the
# record of each time one was served to or acknowledged by a person. Neither is
# consent: decisions never read these tables.
notices = Table(
    "tg_notices",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("audience", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("stored_at_us", BigInteger, nullable=False),
)

notice_events = Table(
    "tg_notice_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("notice_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("tenant", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Index("ix_notice_events_tenant_subject", "tenant", "subject"),
)

# Keys of the HTTP service. Only the SHA-256 of each secret is kept; the tenant
# is null for the platform's operator keys, which are bound to no tenant.
api_keys = Table(
    "tg_api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("tenant", String(200), nullable=True),
    Column("role", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)
