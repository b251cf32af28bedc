"""Initial schema: settings, policy versions, tenants, taxonomy, consent, audit log.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tg_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "tg_policy_versions",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("family", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("effective_at_us", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("added_at_us", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("family", "version", name="uq_policy_family_version"),
        sa.UniqueConstraint("family", "effective_at_us", name="uq_policy_family_effective"),
    )
    op.create_table(
        "tg_tenant_families",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("family", sa.String(200), nullable=False),
    )
    op.create_table(
        "tg_taxonomy_keys",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
    )
    op.create_table(
        "tg_consent_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_consent_tenant_at", "tg_consent_events", ["tenant", "at_us"])
    op.create_table(
        "tg_audit_entries",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("redacted_at_us", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "tg_audit_checkpoints",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tg_audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO tg_audit_head (id, size) VALUES (1, 0)")


def downgrade() -> None:
    for table in (
        "tg_audit_head",
        "tg_audit_checkpoints",
        "tg_audit_entries",
        "tg_consent_events",
        "tg_taxonomy_keys",
        "tg_tenant_families",
        "tg_policy_versions",
        "tg_settings",
    ):
        op.drop_table(table)
