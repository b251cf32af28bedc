"""Table definitions the store reads and writes (the migrations create them).

Times are integer microseconds since the epoch, UTC: exact, sortable and the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..audit import schema as audit

# The audit log's tables are the audit package's own (it reads them without
# importing the store); the state tables join them on the same metadata, under
# the names the audit state check reads them by.
metadata = audit.metadata
KEY_EVENTS_CONDITION = audit.KEY_EVENTS_CONDITION
audit_entries = audit.audit_entries
audit_checkpoints = audit.audit_checkpoints
audit_head = audit.audit_head

settings = Table(
    audit.SETTINGS,
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

policy_versions = Table(
    audit.POLICY_VERSIONS,
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
    audit.TENANT_FAMILIES,
    metadata,
    Column("tenant", String(200), primary_key=True),
    Column("family", String(200), nullable=False),
)

taxonomy_keys = Table(
    audit.TAXONOMY_KEYS,
    metadata,
    Column("key", String(200), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("description", Text, nullable=False),
)

consent_events = Table(
    audit.CONSENT_EVENTS,
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

models = Table(
    audit.MODELS,
    metadata,
    Column("name", String(200), primary_key=True),
    Column("trained_at_us", BigInteger, nullable=True),
    Column("registered_at_us", BigInteger, nullable=False),
)

model_manifests = Table(
    audit.MODEL_MANIFESTS,
    metadata,
    Column("model", String(200), ForeignKey(models.c.name), nullable=False),
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
    audit.NOTICES,
    metadata,
    Column("id", String(40), primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("policy_version", String(64), ForeignKey(policy_versions.c.hash), nullable=False),
    Column("audience", String(16), nullable=False),
    Column("body", Text, nullable=False),
    Column("stored_at_us", BigInteger, nullable=False),
)

notice_events = Table(
    audit.NOTICE_EVENTS,
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(40), nullable=False, unique=True),
    Column("notice_id", String(40), ForeignKey(notices.c.id), nullable=False),
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
    audit.API_KEYS,
    metadata,
    Column("id", String(32), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("tenant", String(200), nullable=True),
    Column("role", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)
