"""Telegram bot: conversation state (aiogram FSM) for installs without Redis

Revision ID: bot_0001
Revises: 0001
Create Date: 2026-11-26 14:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "bot_0001"
down_revision = "0001"
branch_labels = ("bot",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bot_fsm",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("state", sa.String(255), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_bot_fsm")),
    )


def downgrade() -> None:
    op.drop_table("bot_fsm")
