"""R11: at most one enabled copy of a line, held by the database (a partial unique index)

Revision ID: acc_0001
Revises: 0001
Create Date: 2026-12-07

Two creations of the same line (login@server:port) racing could both pass the service's
check and both be stored enabled; the index makes the second one the database's to refuse
(``Accounts.add`` then stores it disabled). Rows from before the rule with several enabled
copies of a line keep the oldest enabled; the newer ones are disabled with the message the
service gives such a copy (it names the line, not the other copy's owner).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "acc_0001"
down_revision = "0001"
branch_labels = ("accounts",)
depends_on = None

MESSAGE = (
    "SIP account {sip} is already connected in telesip (another copy of it is enabled and "
    "registers it). One copy registers at a time: disable or delete the other copy first."
)


def upgrade() -> None:
    conn = op.get_bind()
    accounts = sa.table(
        "accounts",
        sa.column("id", sa.BigInteger),
        sa.column("identity", sa.String),
        sa.column("login", sa.String),
        sa.column("domain", sa.String),
        sa.column("enabled", sa.Boolean),
        sa.column("reg_state", sa.String),
        sa.column("reg_error", sa.String),
    )
    rows = conn.execute(
        sa.select(accounts.c.id, accounts.c.identity, accounts.c.login, accounts.c.domain)
        .where(accounts.c.enabled)
        .order_by(accounts.c.identity, accounts.c.id)
    ).all()
    seen: set[str] = set()
    for row in rows:
        if row.identity in seen:
            conn.execute(
                sa.update(accounts)
                .where(accounts.c.id == row.id)
                .values(
                    enabled=False,
                    reg_state="disabled",
                    reg_error=MESSAGE.format(sip=f"{row.login}@{row.domain}")[:255],
                )
            )
        seen.add(row.identity)
    op.create_index(
        "ux_accounts_line_enabled",
        "accounts",
        ["identity"],
        unique=True,
        sqlite_where=sa.text("enabled"),
        postgresql_where=sa.text("enabled"),
    )


def downgrade() -> None:
    op.drop_index("ux_accounts_line_enabled", table_name="accounts")
