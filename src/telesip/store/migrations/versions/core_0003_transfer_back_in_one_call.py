"""R7 on PostgreSQL: the transfer back's write in one call, a transaction of its own

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-12-07

``telesip_transfer_back`` is the write of the fast transfer back (store/pg_statements.py): it
locks the account if it is still as the service read it (``FOR NO KEY UPDATE``, the lock the
Core step takes), then, each statement on a snapshot taken after that lock (a VOLATILE
function's statements take a new one each, under READ COMMITTED), checks what the decision
also rested on (the unlink this person gave was received; their subscriptions; no lock-out of
the pair by wrong guesses, whose writers hold the account's lock), and writes the outcome:
the guesses forgotten, the account moved back, its pending offer ended, the audit row. It
returns false, having written nothing, when any of that no longer holds: the Core step then
decides and says why. Called outside a transaction block, it is one transaction by itself, so
the step needs no BEGIN and COMMIT round trips. SQLite has no such function (nothing to do).
"""

from __future__ import annotations

from alembic import op

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None

_CREATE = """
CREATE FUNCTION telesip_transfer_back(
    p_account bigint, p_actor bigint, p_now timestamp,
    p_owner bigint, p_user bigint, p_payer text, p_password_enc bytea,
    p_plans text[], p_seats int[], p_new_payer text, p_details json
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM 1 FROM accounts
    WHERE id = p_account AND owner_id = p_owner AND user_id = p_user AND payer = p_payer
      AND NOT via_link AND password_enc = p_password_enc
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF NOT EXISTS (
            SELECT 1 FROM offers WHERE account_id = p_account AND state = 'accepted'
            AND method = 'unlink' AND sender_id = p_actor)
        OR EXISTS (
            SELECT 1 FROM guesses WHERE user_id = p_actor AND account_id = p_account
            AND locked_until > p_now)
        OR (SELECT coalesce(array_agg(s.plan::text ORDER BY s.id), '{}') FROM subscriptions s
            WHERE s.user_id = p_actor) <> p_plans
        OR (SELECT coalesce(array_agg(s.seats ORDER BY s.id), '{}') FROM subscriptions s
            WHERE s.user_id = p_actor) IS DISTINCT FROM p_seats
    THEN
        RETURN false;
    END IF;
    DELETE FROM guesses WHERE user_id = p_actor AND account_id = p_account;
    UPDATE accounts
    SET owner_id = p_actor, user_id = p_actor, payer = p_new_payer, via_link = false,
        updated_at = p_now
    WHERE id = p_account;
    UPDATE offers
    SET state = CASE WHEN expires_at <= p_now THEN 'expired' ELSE 'cancelled' END,
        decided_at = p_now
    WHERE account_id = p_account AND state = 'pending';
    INSERT INTO audit (at, actor_id, account_id, action, details)
    VALUES (p_now, p_actor, p_account, 'transferred_back', p_details);
    RETURN true;
END
$$
"""

_DROP = (
    "DROP FUNCTION telesip_transfer_back(bigint, bigint, timestamp, bigint, bigint, text, bytea,"
    " text[], int[], text, json)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_DROP)
