"""the transfer cycle writes less (two indexes no query needed, a shorter transfer back); an
index for the offer a message carries

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-12-07

Every move of an account is an UPDATE of indexed columns (owner, user, time), so PostgreSQL
adds an entry to each of the table's indexes; every use case adds an audit record with an
entry in each of its indexes. Two of those indexes served no query that the others do not:

- ``ix_accounts_identity`` (every line): on PostgreSQL a line is found in
  ``ux_accounts_line_enabled`` (enabled rows, acc_0001) or ``ix_accounts_identity_disabled``
  (the others, acc_0002), which hold every row between them; the queries that look for a line
  whatever its state ask both (store/repositories/accounts.py). SQLite keeps it: it writes
  ``enabled`` as ``enabled = 1``, which cannot use the partial index on ``enabled``.
- ``ix_audit_at`` (every record's time): its one reader is the workers' poll for accounts
  deleted since a moment (``Accounts.changed_since``); ``ix_audit_deleted`` holds those records
  only, so the other records add nothing to it.

Two fewer entries per move and three per cycle's audit records: 28 index entries a cycle
become 23. One index is added where a query had none: ``ix_offers_inline_message``, for the
offer a message carries (an offer made on a message checks that it carries none yet, the
bot's inline callbacks look it up): each read every offer; offers on no message, the
cycle's, are not in it.

``telesip_transfer_back`` (core_0003) does the same checks and writes in fewer statements:
one reads everything the checks need after the lock (the unlink given, the pair's guesses
and lock-out, a pending offer, the subscriptions), and the guesses are deleted and the
pending offer ended only when there are any (both are written under the account's lock,
which the function holds, so none can appear in between).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "core_0004"
down_revision = "core_0003"
branch_labels = None
depends_on = None

_CREATE = """
CREATE OR REPLACE FUNCTION telesip_transfer_back(
    p_account bigint, p_actor bigint, p_now timestamp,
    p_owner bigint, p_user bigint, p_payer text, p_password_enc bytea,
    p_plans text[], p_seats int[], p_new_payer text, p_details json
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_given boolean;
    v_guessed boolean;
    v_locked boolean;
    v_pending boolean;
    v_plans text[];
    v_seats int[];
BEGIN
    PERFORM 1 FROM accounts
    WHERE id = p_account AND owner_id = p_owner AND user_id = p_user AND payer = p_payer
      AND NOT via_link AND password_enc = p_password_enc
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT EXISTS (SELECT 1 FROM offers WHERE account_id = p_account AND state = 'accepted'
                   AND method = 'unlink' AND sender_id = p_actor),
           g.user_id IS NOT NULL, coalesce(g.locked_until > p_now, false),
           EXISTS (SELECT 1 FROM offers WHERE account_id = p_account AND state = 'pending'),
           s.plans, s.seats
    INTO v_given, v_guessed, v_locked, v_pending, v_plans, v_seats
    FROM (SELECT coalesce(array_agg(plan::text ORDER BY id), '{}') AS plans,
                 coalesce(array_agg(seats ORDER BY id), '{}') AS seats
          FROM subscriptions WHERE user_id = p_actor) s
    LEFT JOIN guesses g ON g.user_id = p_actor AND g.account_id = p_account;
    IF NOT v_given OR v_locked OR v_plans <> p_plans OR v_seats IS DISTINCT FROM p_seats THEN
        RETURN false;
    END IF;
    IF v_guessed THEN
        DELETE FROM guesses WHERE user_id = p_actor AND account_id = p_account;
    END IF;
    UPDATE accounts
    SET owner_id = p_actor, user_id = p_actor, payer = p_new_payer, via_link = false,
        updated_at = p_now
    WHERE id = p_account;
    IF v_pending THEN
        UPDATE offers
        SET state = CASE WHEN expires_at <= p_now THEN 'expired' ELSE 'cancelled' END,
            decided_at = p_now
        WHERE account_id = p_account AND state = 'pending';
    END IF;
    INSERT INTO audit (at, actor_id, account_id, action, details)
    VALUES (p_now, p_actor, p_account, 'transferred_back', p_details);
    RETURN true;
END
$$
"""

_DELETED = "action = 'deleted'"
_ON_MESSAGE = "inline_message_id IS NOT NULL"


def _core_0003_function() -> str:
    """core_0003's definition of the function, as CREATE OR REPLACE (for the downgrade)."""
    path = Path(__file__).with_name("core_0003_transfer_back_in_one_call.py")
    spec = importlib.util.spec_from_file_location("telesip_core_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._CREATE).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.drop_index("ix_accounts_identity", table_name="accounts")
    op.drop_index("ix_audit_at", table_name="audit")
    op.create_index(
        "ix_audit_deleted",
        "audit",
        ["at"],
        sqlite_where=sa.text(_DELETED),
        postgresql_where=sa.text(_DELETED),
    )
    op.create_index(
        "ix_offers_inline_message",
        "offers",
        ["inline_message_id"],
        sqlite_where=sa.text(_ON_MESSAGE),
        postgresql_where=sa.text(_ON_MESSAGE),
    )
    if pg:
        op.execute(_CREATE)


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        op.execute(_core_0003_function())
    op.drop_index("ix_offers_inline_message", table_name="offers")
    op.drop_index("ix_audit_deleted", table_name="audit")
    op.create_index("ix_audit_at", "audit", ["at"])
    if pg:
        op.create_index("ix_accounts_identity", "accounts", ["identity"])
