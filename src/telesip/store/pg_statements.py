"""The transfer cycle's hot path on PostgreSQL: each step in one or two statements on the raw
asyncpg connection of the unit of work (SQLAlchemy's per-statement CPU was most of a cycle).

What it does not decide: every rule stays in the domain. A step is a read, then one write that
locks the account (``FOR NO KEY UPDATE``, the lock the Core path takes) if it is still as read
and writes the whole outcome with its audit row, its guards being the domain's decision taken
on the rows read; or, for an offer, one guarded CTE whose conditions are exactly the rule's.
Each statement is a transaction of its own (no BEGIN and COMMIT round trips): the write is the
step's one transaction, the read before it none (it locks nothing, so it writes no WAL).
A step that returns nothing tells ``PgTransfers`` (repositories/transfers_pg.py, the only
user of this module) to take the Core step, which produces the typed error (or, for cases this
file does not handle, the outcome). Times are naive UTC, as
``tables.UTCDateTime`` stores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from telesip.domain.errors import ConflictError, StorageUnavailable
from telesip.domain.model import Method, Offer, OfferKind, OfferState, Payer, TelegramUser
from telesip.domain.plans import Subscription
from telesip.domain.transfers import Holding, TransferOutcome

# R3: lock the account if the sender still owns it (and may offer this method) and the
# message (if any) carries no offer yet, end its pending offer, add the new one and its audit
# row. ``closed`` must run before ``added`` (one pending offer per account): the count makes
# ``added`` wait for it. Parameters: $1 account, $2 sender, $3 now, $4 method, $5 token,
# $6 expiry, then the message (with one) and the plans that may assign and those known (for
# an assignment). A condition that does not apply is left out of the statement rather than
# switched off by a NULL parameter: PostgreSQL prepares every subquery of a statement each
# time it runs it, used or not.
_OFFER = """
WITH acc AS MATERIALIZED (
    SELECT id FROM accounts
    WHERE id = $1 AND owner_id = $2 AND NOT via_link{conditions}
    FOR NO KEY UPDATE
), closed AS MATERIALIZED (
    UPDATE offers
    SET state = CASE WHEN expires_at <= $3 THEN 'expired' ELSE 'replaced' END, decided_at = $3
    WHERE account_id = (SELECT id FROM acc) AND state = 'pending'
    RETURNING id
), added AS (
    INSERT INTO offers (account_id, sender_id, method, kind, state, token, created_at, expires_at,
                        inline_message_id)
    SELECT id, $2, $4::text, 'transfer', 'pending', $5::text, $3, $6::timestamp, {message}
    FROM acc
    WHERE (SELECT count(*) FROM closed) >= 0
    RETURNING id
), audited AS (
    INSERT INTO audit (at, actor_id, account_id, action, details)
    SELECT $3, $2, $1, 'offer_created',
           json_build_object('offer_id', id, 'method', $4::text, 'kind', 'transfer')
    FROM added
)
SELECT (SELECT id FROM added) AS offer_id, (SELECT min(id) FROM closed) AS replaced_id
"""
_ON_MESSAGE = """
      AND NOT EXISTS (SELECT 1 FROM offers WHERE inline_message_id = $7::text)"""
_MAY_ASSIGN = """
      AND EXISTS (SELECT 1 FROM subscriptions WHERE user_id = $2 AND plan = ANY(${may}::text[]))
      AND NOT EXISTS (
        SELECT 1 FROM subscriptions WHERE user_id = $2 AND plan <> ALL(${known}::text[]))"""


def _offer_statement(on_message: bool, assignment: bool) -> str:
    first = 8 if on_message else 7  # the plans' parameters follow the message's
    conditions = (_ON_MESSAGE if on_message else "") + (
        _MAY_ASSIGN.format(may=first, known=first + 1) if assignment else ""
    )
    return _OFFER.format(conditions=conditions, message="$7::text" if on_message else "NULL")


# (on a message, an assignment) -> the statement
_OFFERS = {(m, a): _offer_statement(m, a) for m in (False, True) for a in (False, True)}

# Subscriptions as two parallel arrays (plan, seats), in id order.
_SUBS = """(SELECT coalesce(array_agg(s.plan ORDER BY s.id), '{{}}') FROM subscriptions s
             WHERE s.user_id = {who}) AS {name}_plans,
           (SELECT coalesce(array_agg(s.seats ORDER BY s.id), '{{}}') FROM subscriptions s
             WHERE s.user_id = {who}) AS {name}_seats"""

# R3 receive, read (no lock): the offer, its account, the subscriptions the payer depends on
# (the recipient's for an unlink, the owner's for an assignment) and whether the recipient is
# known yet.
_RECEIVE_READ = f"""
SELECT a.owner_id, a.user_id, a.payer, a.via_link,
       o.id, o.account_id, o.sender_id, o.method, o.kind, o.state, o.only_for_id,
       o.recipient_id, o.created_at, o.expires_at, o.decided_at, o.inline_message_id, o.token,
       EXISTS (SELECT 1 FROM users WHERE id = $2) AS known,
       {_SUBS.format(who="$2", name="actor")},
       {_SUBS.format(who="a.owner_id", name="owner")}
FROM offers o JOIN accounts a ON a.id = o.account_id
WHERE o.id = $1
"""

# R3 receive, write: lock the account if it is still as read (the decision was taken on it),
# accept exactly once (pending and unexpired, as the Core path's UPDATE), store the recipient
# if new (with the default plan), move the account, audit. Nothing happens unless accepted.
_RECEIVE_WRITE = """
WITH acc AS MATERIALIZED (
    SELECT id FROM accounts
    WHERE id = $15 AND owner_id = $16 AND user_id = $17 AND payer = $18 AND via_link = $19
    FOR NO KEY UPDATE
), accepted AS (
    UPDATE offers SET state = 'accepted', recipient_id = $2, decided_at = $3
    WHERE id = $1 AND account_id = (SELECT id FROM acc) AND state = 'pending'
      AND expires_at > $3
    RETURNING account_id
), new_user AS (
    INSERT INTO users (id, first_name, username, language_code, created_at)
    SELECT $2, $4::text, $5::text, $6::text, $3 WHERE EXISTS (SELECT 1 FROM accepted)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), new_sub AS (
    INSERT INTO subscriptions (user_id, plan, seats, created_at)
    SELECT id, $7::text, $8::int, $3 FROM new_user
), moved AS (
    UPDATE accounts
    SET owner_id = $9, user_id = $10, payer = $11, via_link = $12, updated_at = $3
    WHERE id = (SELECT account_id FROM accepted)
    RETURNING id
), audited AS (
    INSERT INTO audit (at, actor_id, account_id, action, details)
    SELECT $3, $2, id, $13::text, $14::json FROM moved
)
SELECT count(*) FROM accepted
"""

# R3 receive of an unlink in one statement, for a recipient whose subscriptions the service
# already knows (it decided the payer on them; they must still be the same): lock the account,
# accept exactly once if every condition of ``Offer.check_acceptable`` holds, the sender still
# owns it and it is not link-managed, move it, audit. No row: the two-step path decides.
_RECEIVE_UNLINK = """
WITH acc AS MATERIALIZED (
    SELECT id, owner_id, user_id, payer FROM accounts
    WHERE id = (SELECT account_id FROM offers WHERE id = $1) AND NOT via_link
    FOR NO KEY UPDATE
), accepted AS MATERIALIZED (
    UPDATE offers o SET state = 'accepted', recipient_id = $2, decided_at = $3
    FROM acc
    WHERE o.id = $1 AND o.account_id = acc.id AND o.state = 'pending' AND o.expires_at > $3
      AND o.method = 'unlink' AND o.sender_id = acc.owner_id AND o.sender_id <> $2
      AND (o.only_for_id IS NULL OR o.only_for_id = $2)
      AND (SELECT coalesce(array_agg(s.plan::text ORDER BY s.id), '{}') = $4::text[]
                  AND coalesce(array_agg(s.seats ORDER BY s.id), '{}')
                      IS NOT DISTINCT FROM $5::int[]
           FROM subscriptions s WHERE s.user_id = $2)
    RETURNING o.*, acc.owner_id AS old_owner, acc.user_id AS old_user, acc.payer AS old_payer,
              CASE acc.payer WHEN 'operator' THEN $6::text ELSE $7::text END AS new_payer
), moved AS (
    UPDATE accounts a
    SET owner_id = $2, user_id = $2, payer = accepted.new_payer, via_link = false,
        updated_at = $3
    FROM accepted WHERE a.id = accepted.account_id
), audited AS (
    INSERT INTO audit (at, actor_id, account_id, action, details)
    SELECT $3, $2, account_id, 'received',
           json_build_object('from_owner_id', old_owner, 'payer', new_payer)
    FROM accepted
)
SELECT * FROM accepted
"""

# R7, read (no lock, no transaction): the account with its encrypted password, whether this
# person gave it away by an unlink that was received, and their subscriptions (both arrays
# from one scan).
_TRANSFER_BACK_READ = """
SELECT a.owner_id, a.user_id, a.payer, a.via_link, a.password_enc,
       EXISTS (SELECT 1 FROM offers WHERE account_id = a.id AND state = 'accepted'
               AND method = 'unlink' AND sender_id = $2) AS given,
       s.plans AS actor_plans, s.seats AS actor_seats
FROM accounts a,
     (SELECT coalesce(array_agg(plan ORDER BY id), '{}') AS plans,
             coalesce(array_agg(seats ORDER BY id), '{}') AS seats
      FROM subscriptions WHERE user_id = $2) s
WHERE a.id = $1
"""

# R7, write: one call of ``telesip_transfer_back`` (migration core_0003), its own transaction:
# it locks the account if it is still as read, checks on a snapshot taken after that lock that
# the unlink was given, the subscriptions are those read and the pair is not locked out by
# wrong guesses, then forgets the guesses, moves the account back, ends its pending offer and
# audits. False: nothing written.
_TRANSFER_BACK_WRITE = """
SELECT telesip_transfer_back($1, $2, $3, $4, $5, $6, $7, $8::text[], $9::int[], $10, $11::json)
"""


def _db_time(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _subs(
    user_id: int, plans: list[str], seats: list[int | None], *, known: bool = True
) -> list[Subscription]:
    subs = [Subscription(0, user_id, p, n) for p, n in zip(plans, seats, strict=True)]
    if known:  # an unknown user gets the default plan when stored: nothing to remember yet
        if len(_SEEN_SUBS) >= 10_000:
            _SEEN_SUBS.clear()
        _SEEN_SUBS[user_id] = subs
    return subs


# The subscriptions last read per user: a guess that lets receive decide the payer before its
# one statement, which checks that they are still these (so a stale guess changes nothing).
_SEEN_SUBS: dict[int, list[Subscription]] = {}


def _offer(row: Any) -> Offer:
    return Offer(
        id=row["id"],
        account_id=row["account_id"],
        sender_id=row["sender_id"],
        method=Method(row["method"]),
        kind=OfferKind(row["kind"]),
        created_at=row["created_at"].replace(tzinfo=UTC),
        expires_at=row["expires_at"].replace(tzinfo=UTC),
        state=OfferState(row["state"]),
        only_for_id=row["only_for_id"],
        recipient_id=row["recipient_id"],
        decided_at=_aware(row["decided_at"]),
        inline_message_id=row["inline_message_id"],
        token=row["token"],
    )


def _details(values: dict[str, Any]) -> str:
    return json.dumps(values)


@dataclass(frozen=True)
class ReceiveView:
    account: Holding
    offer: Offer
    recipient_known: bool
    recipient_subs: list[Subscription]
    owner_subs: list[Subscription]


@dataclass(frozen=True)
class ReceivedUnlink:
    """What the one-statement receive changed: the offer as accepted, the account before."""

    offer: Offer
    from_owner_id: int
    previous_user_id: int
    payer: Payer  # before the move


@dataclass(frozen=True)
class TransferBackView:
    account: Holding
    password_enc: bytes
    given: bool
    actor_subs: list[Subscription]


class PgStatements:
    """Offer, receive and transfer back on one asyncpg connection outside SQLAlchemy.

    No statement here opens a transaction: each is one by itself, or part of the unit of
    work's when SQLAlchemy began one on the connection. ``commit`` / ``close`` end whatever
    transaction the driver reports open (the unit of work calls them), so a use case sees one
    transaction as usual. asyncpg caches each statement's preparation per connection. asyncpg
    errors are translated here, as the unit of work does for SQLAlchemy's.
    """

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def _run(self, call: Any, *args: Any) -> Any:
        try:
            return await call(*args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise ConflictError() from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StorageUnavailable() from exc

    def in_transaction(self) -> bool:
        return bool(self._conn.is_in_transaction())

    async def commit(self) -> None:
        if self._conn.is_in_transaction():
            await self._run(self._conn.execute, "COMMIT")

    async def close(self) -> None:
        """Roll back what was not committed (the pool does not know of this transaction)."""
        if not self._conn.is_closed() and self._conn.is_in_transaction():
            await self._run(self._conn.execute, "ROLLBACK")

    async def offer(
        self,
        account_id: int,
        sender_id: int,
        method: Method,
        token: str,
        now: datetime,
        expires_at: datetime,
        assign_plans: list[str] | None,
        known_plans: list[str],
        inline_message_id: str | None,
    ) -> tuple[int, int | None] | None:
        """(offer id, replaced offer id), or None when the rules need the Core path: not the
        owner, a link-managed account, no plan that may assign (``assign_plans`` given for an
        assignment), an offer on the message already, or an offer made concurrently (the
        unique pending index says so)."""
        args: list[Any] = [
            account_id,
            sender_id,
            _db_time(now),
            method.value,
            token,
            _db_time(expires_at),
        ]
        if inline_message_id is not None:
            args.append(inline_message_id)
        if assign_plans is not None:
            args += [assign_plans, known_plans]
        statement = _OFFERS[inline_message_id is not None, assign_plans is not None]
        try:
            row = await self._conn.fetchrow(statement, *args)
        except asyncpg.UniqueViolationError:
            return None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StorageUnavailable() from exc
        if row is None or row["offer_id"] is None:
            return None
        return int(row["offer_id"]), row["replaced_id"]

    @staticmethod
    def seen_subscriptions(user_id: int) -> list[Subscription] | None:
        return _SEEN_SUBS.get(user_id)

    @staticmethod
    def forget_subscriptions() -> None:
        _SEEN_SUBS.clear()

    async def receive_unlink(
        self,
        offer_id: int,
        recipient_id: int,
        now: datetime,
        subs: list[Subscription],
        payer_if_operator: Payer,
        payer_otherwise: Payer,
    ) -> ReceivedUnlink | None:
        """Receive an unlink offer in one statement if the rules let it through as they are
        and ``subs`` are still the recipient's subscriptions; None: nothing written."""
        row = await self._run(
            self._conn.fetchrow,
            _RECEIVE_UNLINK,
            offer_id,
            recipient_id,
            _db_time(now),
            [sub.plan for sub in subs],
            [sub.seats for sub in subs],
            payer_if_operator.value,
            payer_otherwise.value,
        )
        if row is None:
            return None
        return ReceivedUnlink(
            _offer(row), row["old_owner"], row["old_user"], Payer(row["old_payer"])
        )

    async def receive_view(self, offer_id: int, recipient_id: int) -> ReceiveView | None:
        row = await self._run(self._conn.fetchrow, _RECEIVE_READ, offer_id, recipient_id)
        if row is None:
            return None
        account = Holding(
            row["account_id"], row["owner_id"], row["user_id"], Payer(row["payer"]), row["via_link"]
        )
        return ReceiveView(
            account,
            _offer(row),
            row["known"],
            _subs(recipient_id, row["actor_plans"], row["actor_seats"], known=row["known"]),
            _subs(account.owner_id, row["owner_plans"], row["owner_seats"]),
        )

    async def receive_write(
        self,
        seen: Holding,
        offer_id: int,
        recipient: TelegramUser,
        now: datetime,
        new_user_plan: tuple[str, int | None],
        outcome: TransferOutcome,
    ) -> bool:
        """Accept and write ``outcome``; False (nothing written) when the offer is no longer
        pending or the account is no longer as ``seen``."""
        after = outcome.after
        count = await self._run(
            self._conn.fetchval,
            _RECEIVE_WRITE,
            offer_id,
            recipient.id,
            _db_time(now),
            recipient.first_name[:128],
            recipient.username,
            recipient.language_code,
            new_user_plan[0],
            new_user_plan[1],
            after.owner_id,
            after.user_id,
            after.payer.value,
            after.via_link,
            outcome.action,
            _details(outcome.details),
            seen.account_id,
            seen.owner_id,
            seen.user_id,
            seen.payer.value,
            seen.via_link,
        )
        return bool(count)

    async def transfer_back_view(self, account_id: int, actor_id: int) -> TransferBackView | None:
        row = await self._run(self._conn.fetchrow, _TRANSFER_BACK_READ, account_id, actor_id)
        if row is None:
            return None
        return TransferBackView(
            Holding(
                account_id, row["owner_id"], row["user_id"], Payer(row["payer"]), row["via_link"]
            ),
            row["password_enc"],
            row["given"],
            _subs(actor_id, row["actor_plans"], row["actor_seats"]),
        )

    async def transfer_back_write(
        self, view: TransferBackView, actor_id: int, now: datetime, outcome: TransferOutcome
    ) -> bool:
        """Write ``outcome`` (the account moved back to ``actor_id``, its pending offer ended,
        the guesses forgotten) if everything ``view`` showed still holds and the pair is not
        locked out; False: nothing written."""
        seen = view.account
        done = await self._run(
            self._conn.fetchval,
            _TRANSFER_BACK_WRITE,
            seen.account_id,
            actor_id,
            _db_time(now),
            seen.owner_id,
            seen.user_id,
            seen.payer.value,
            view.password_enc,
            [sub.plan for sub in view.actor_subs],
            [sub.seats for sub in view.actor_subs],
            outcome.after.payer.value,
            _details(outcome.details),
        )
        return bool(done)
