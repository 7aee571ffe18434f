"""leases.registered_at: when the lease's holder first reported the account registered

A worker handing an account over keeps its own registration until the new holder says it is
registered (this column), so the account is never without a contact on the way.

Revision ID: wrk_0002
Revises: wrk_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "wrk_0002"
down_revision = "wrk_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.add_column(
            sa.Column("registered_at", telesip.store.tables.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("leases") as batch:
        batch.drop_column("registered_at")
