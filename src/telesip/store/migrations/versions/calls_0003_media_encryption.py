"""calls: the per-account media encryption setting (accounts.media_encryption)

NULL (every existing line) means the transport's default: optional SRTP over TLS, off otherwise.

Revision ID: calls_0003
Revises: calls_0002
Create Date: 2026-12-07 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "calls_0003"
down_revision = "calls_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("media_encryption", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("media_encryption")
