"""Notices shown to people, and when each was served and acknowledged.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tg_notices",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column(
            "policy_version",
            sa.String(64),
            sa.ForeignKey("tg_policy_versions.hash"),
            nullable=False,
        ),
        sa.Column("audience", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("stored_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tg_notice_events",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(40), nullable=False, unique=True),
        sa.Column("notice_id", sa.String(40), sa.ForeignKey("tg_notices.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_notice_events_tenant_subject", "tg_notice_events", ["tenant", "subject"])


def downgrade() -> None:
    op.drop_index("ix_notice_events_tenant_subject", "tg_notice_events")
    op.drop_table("tg_notice_events")
    op.drop_table("tg_notices")
