"""calls: history, commands to the worker running a call, the bot's outbox

Revision ID: calls_0001
Revises: 0001
Create Date: 2026-11-26 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import telesip.store.tables

revision = "calls_0001"
down_revision = "0001"
branch_labels = ("calls",)
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = telesip.store.tables.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(length=4), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("line", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("answered_at", UTC(), nullable=True),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.Column("sip_status", sa.Integer(), nullable=True),
        sa.Column("worker_id", sa.BigInteger(), nullable=True),
        sa.Column("caller", sa.String(length=64), nullable=True),
        sa.Column("recording", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
    )
    op.create_index("ix_calls_user", "calls", ["user_id", "id"])
    op.create_index("ix_calls_owner", "calls", ["owner_id", "id"])
    op.create_index("ix_calls_account", "calls", ["account_id", "id"])
    op.create_index("ix_calls_state", "calls", ["state", "account_id"])
    op.create_table(
        "call_commands",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("call_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("arg", sa.String(length=32), server_default="", nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("done_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_call_commands_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_commands")),
    )
    op.create_index("ix_call_commands_pending", "call_commands", ["call_id", "done_at"])
    op.create_table(
        "bot_outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTC(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_outbox")),
    )
    op.create_index("ix_bot_outbox_due", "bot_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("bot_outbox")
    op.drop_table("call_commands")
    op.drop_table("calls")
