"""operators' HTTP API: API keys, server templates, webhooks, deliveries and their cursor

Revision ID: api_0001
Revises: 0001
Create Date: 2026-11-26 13:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "api_0001"
down_revision = "0001"
branch_labels = ("api",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = telesip.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), server_default="", nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("last_used_at", UTC(), nullable=True),
        sa.Column("revoked_at", UTC(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "templates",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("operator", sa.String(64), nullable=True),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_templates")),
    )
    op.create_index("ix_templates_operator", "templates", ["operator"])
    op.create_index("ix_templates_user", "templates", ["user_id"])
    op.create_table(
        "webhooks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("since_audit_id", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
    )
    op.create_index("ix_webhooks_operator", "webhooks", ["operator"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("webhook_id", sa.BigInteger(), nullable=False),
        sa.Column("delivery_id", sa.String(36), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTC(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("delivered_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_webhook_deliveries_delivery_id")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_webhook", "webhook_deliveries", ["webhook_id", "id"])
    op.create_index(
        "uq_webhook_deliveries_event", "webhook_deliveries", ["webhook_id", "audit_id"], unique=True
    )
    op.create_table(
        "webhook_cursor",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_webhook_cursor")),
    )
    op.bulk_insert(
        sa.table("webhook_cursor", sa.column("name", sa.String), sa.column("audit_id")),
        [{"name": "webhooks", "audit_id": 0}],
    )


def downgrade() -> None:
    op.drop_table("webhook_cursor")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("templates")
    op.drop_table("api_keys")
