"""offer tokens: an offer made through the API is received from a t.me deep link

Revision ID: core_0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.add_column(sa.Column("token", sa.String(length=32), nullable=True))
        batch.create_unique_constraint(op.f("uq_offers_token"), ["token"])


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_constraint(op.f("uq_offers_token"), type_="unique")
        batch.drop_column("token")
