"""Checkpoints keep their Merkle frontier and predecessor; the head its latest signed size.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tg_audit_checkpoints", sa.Column("frontier", sa.LargeBinary, nullable=True))
    op.add_column("tg_audit_checkpoints", sa.Column("previous", sa.BigInteger, nullable=True))
    op.add_column(
        "tg_audit_head",
        sa.Column("signed_size", sa.BigInteger, nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE tg_audit_head SET signed_size = "
        "(SELECT COALESCE(MAX(size), 0) FROM tg_audit_checkpoints)"
    )
    # Verification looks up the few key events without scanning the log; a
    # partial index holds only them, so appends of other entries pay nothing.
    op.execute(
        "CREATE INDEX ix_audit_key_events ON tg_audit_entries (idx) "
        "WHERE kind IN ('audit.key_pinned', 'audit.key_rotated')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_key_events")
    with op.batch_alter_table("tg_audit_head") as batch:
        batch.drop_column("signed_size")
    with op.batch_alter_table("tg_audit_checkpoints") as batch:
        batch.drop_column("previous")
        batch.drop_column("frontier")
