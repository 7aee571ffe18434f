"""telegram: which remote worker named a caller account (NULL: the service's own)

Revision ID: tg_0002
Revises: tg_0001, wrk_0001 (a merge: the column refers to the workers table)
Create Date: 2026-11-27 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tg_0002"
down_revision = ("tg_0001", "wrk_0001")
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_callers") as batch:
        batch.add_column(sa.Column("worker_id", sa.BigInteger(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_telegram_callers_worker_id_workers"),
            "workers",
            ["worker_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("telegram_callers") as batch:
        batch.drop_constraint(op.f("fk_telegram_callers_worker_id_workers"), type_="foreignkey")
        batch.drop_column("worker_id")
