"""operators' HTTP API: stored answers of POSTs sent with an Idempotency-Key (24 h)

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-07 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "api_0002"
down_revision = "api_0001"
branch_labels = None
depends_on = None

UTC = telesip.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("headers", sa.JSON()),
        sa.Column("body", sa.LargeBinary()),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("locked_until", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "key"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_expires_at", "idempotency_keys")
    op.drop_table("idempotency_keys")
