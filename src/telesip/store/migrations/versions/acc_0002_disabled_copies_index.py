"""R11: an index of the disabled accounts' lines, for the duplicate flag of listings

Revision ID: acc_0002
Revises: acc_0001
Create Date: 2026-12-07

Since acc_0001 an enabled account's other copies of its line are all disabled, so its
duplicate flag (shown on every line of /softphone and the listings) looks only among the
disabled accounts: a small index, in which its own row is not. See ``_duplicate`` in
store/repositories/accounts.py.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "acc_0002"
down_revision = "acc_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_accounts_identity_disabled",
        "accounts",
        ["identity"],
        sqlite_where=sa.text("enabled = 0"),
        postgresql_where=sa.text("NOT enabled"),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_identity_disabled", table_name="accounts")
