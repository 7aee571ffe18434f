"""Importing accounts: a file sent to the bot waits for its Import press (pending_imports)

Revision ID: imp_0001
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "imp_0001"
down_revision = "0001"
branch_labels = ("import",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_imports",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=True),
        sa.Column("server", sa.String(300), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.Column("expires_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_pending_imports")),
    )


def downgrade() -> None:
    op.drop_table("pending_imports")
