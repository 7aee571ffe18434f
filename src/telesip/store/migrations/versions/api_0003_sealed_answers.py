"""Stored idempotent answers are sealed with the service key

Revision ID: api_0003
Revises: api_0002
Create Date: 2026-12-07

An answer may hold a secret shown once (``POST /webhooks`` returns the new webhook's signing
key), so from this revision the body of a stored answer is sealed like the other secrets and
re-encrypted by key rotation. Answers stored before it are plain and cannot be sealed here (a
migration has no key): they are dropped, so a retry with such a key, within the 24 hours it was
kept, runs as a new request.
"""

from __future__ import annotations

from alembic import op

revision = "api_0003"
down_revision = "api_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE body IS NOT NULL")


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys WHERE body IS NOT NULL")  # sealed: unreadable there
