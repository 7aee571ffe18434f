"""workers and leases

Revision ID: wrk_0001
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "wrk_0001"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("pool", sa.String(length=64), nullable=True),
        sa.Column("remote", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("credential_hash", sa.String(length=128), nullable=True),
        sa.Column("instance", sa.String(length=36), nullable=True),
        sa.Column("last_seen", telesip.store.tables.UTCDateTime(), nullable=True),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", telesip.store.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
        sa.UniqueConstraint("name", name=op.f("uq_workers_name")),
    )
    op.create_table(
        "leases",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("worker_id", sa.BigInteger(), nullable=False),
        sa.Column("instance", sa.String(length=36), nullable=False),
        sa.Column("acquired_at", telesip.store.tables.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_leases_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_leases_worker_id_workers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_leases")),
    )
    op.create_index("ix_leases_worker", "leases", ["worker_id"], unique=False)
    op.create_index("ix_accounts_updated", "accounts", ["updated_at"], unique=False)
    op.create_index("ix_audit_at", "audit", ["at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_at", table_name="audit")
    op.drop_index("ix_accounts_updated", table_name="accounts")
    op.drop_index("ix_leases_worker", table_name="leases")
    op.drop_table("leases")
    op.drop_table("workers")
