"""Models and the gate manifests they were trained on.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tg_models",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("trained_at_us", sa.BigInteger, nullable=True),
        sa.Column("registered_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "tg_model_manifests",
        sa.Column("model", sa.String(200), sa.ForeignKey("tg_models.name"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("use", sa.String(200), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("records", sa.BigInteger, nullable=False),
        sa.Column("admitted", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("model", "position"),
    )


def downgrade() -> None:
    op.drop_table("tg_model_manifests")
    op.drop_table("tg_models")
