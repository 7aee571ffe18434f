"""The bot's webhook journal: updates answered to Telegram, kept until handled (bot_updates)

Revision ID: bot_0002
Revises: bot_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "bot_0002"
down_revision = "bot_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("holder", sa.String(36), nullable=False),
        sa.Column("received_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.Column("held_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("update_id", name=op.f("pk_bot_updates")),
    )


def downgrade() -> None:
    op.drop_table("bot_updates")
