"""The transfer steps on PostgreSQL: the same reads, the same domain decision, the same rows
as ``Transfers`` (transfers.py), in one or two statements of ``store/pg_statements.py`` each.

A fast step handles the plain case only: it reads, lets ``domain.transfers`` decide on what it
read (usage uncounted: only where no plan limit makes usage matter), and writes the outcome in
one statement guarded by the facts it decided on. Whatever it does not complete (every
refusal, a plan whose usage counts, a link-managed account, an account changed since the read)
goes on to the Core step it inherits, which says why. Nothing written by a fast step survives
a fallback: its writes are each their own transaction (or part of the unit of work's, when it
began one) and write all or nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain import transfers
from telesip.domain.errors import TelesipError
from telesip.domain.model import Method, Offer, Payer, TelegramUser
from telesip.domain.plans import PLANS, Entitlements, Subscription
from telesip.domain.transfers import Holding, TransferOutcome
from telesip.store.crypto import Cipher
from telesip.store.pg_statements import PgStatements
from telesip.store.repositories.transfers import (
    Accepted,
    Made,
    Refused,
    TransferRepositories,
    Transfers,
)

_ASSIGNING = [p.name for p in PLANS.values() if p.can_assign]


def _uncounted(subs: list[Subscription]) -> Entitlements | None:
    """The plans, when deciding on them needs no usage count (else None: the Core step)."""
    plans = Entitlements.of(subs, 0, 0)
    return None if plans.counts_usage else plans


class PgTransfers(Transfers):
    """``Transfers`` with fast steps; ``statements`` gives the unit of work's raw connection
    (None when switched off: every step is then the Core one)."""

    def __init__(
        self,
        conn: AsyncConnection,
        cipher: Cipher,
        repos: TransferRepositories,
        statements: Callable[[], Awaitable[PgStatements | None]],
    ) -> None:
        super().__init__(conn, cipher, repos)
        self.statements = statements
        self._sync = conn.sync_connection  # started: the unit of work connected it

    async def _first_statements(self) -> PgStatements | None:
        """The fast statements of a step that handles a statement's failure (a unique offer,
        a rolled-back transfer back) by falling back: only as the unit of work's first, where
        that failure ends no transaction that the Core step would go on in."""
        sync = self._sync
        return None if sync is not None and sync.in_transaction() else await self.statements()

    async def offer(self, offer: Offer) -> Made | None:
        """One statement whose conditions are the rules: the sender owns the account, it is
        not link-managed, for an assignment one of the sender's plans allows it (every plan
        known, as ``get_plan`` requires), and the message carries no offer yet."""
        pg = await self._first_statements()
        if pg is not None and offer.token is not None:
            made = await pg.offer(
                offer.account_id,
                offer.sender_id,
                offer.method,
                offer.token,
                offer.created_at,
                offer.expires_at,
                _ASSIGNING if offer.method is Method.ASSIGN else None,
                list(PLANS),
                offer.inline_message_id,
            )
            if made is not None:
                offer.id, replaced = made
                return Made(replaced)
        return await super().offer(offer)

    async def receive(
        self,
        offer_id: int,
        recipient: TelegramUser,
        now: datetime,
        new_user_plan: tuple[str, int | None],
    ) -> Accepted | Refused:
        """An unlink to someone whose subscriptions were read before takes one statement (the
        payer decided on them; the statement checks they are unchanged); the rest of the plain
        case two: the offer read with its account, then one statement that locks the account
        if it is still as read, accepts (exactly once), stores a new recipient, moves the
        account and audits."""
        pg = await self.statements()
        if pg is not None:
            seen = pg.seen_subscriptions(recipient.id)
            done = seen is not None and await self._receive_unlink(
                pg, offer_id, recipient, now, seen
            )
            if not done:
                done = await self._receive(pg, offer_id, recipient, now, new_user_plan)
            if done:
                return done
        return await super().receive(offer_id, recipient, now, new_user_plan)

    async def _receive_unlink(
        self,
        pg: PgStatements,
        offer_id: int,
        recipient: TelegramUser,
        now: datetime,
        subs: list[Subscription],
    ) -> Accepted | None:
        plans = _uncounted(subs)
        if plans is None:
            return None
        try:  # the statement takes whichever applies to the account as it finds it
            if_operator = transfers.payer_after(Method.UNLINK, Payer.OPERATOR, None)
            otherwise = transfers.payer_after(Method.UNLINK, Payer.START, plans)
        except TelesipError:
            return None
        done = await pg.receive_unlink(offer_id, recipient.id, now, subs, if_operator, otherwise)
        if done is None:
            return None
        before = Holding(
            done.offer.account_id, done.from_owner_id, done.previous_user_id, done.payer, False
        )
        outcome = self._outcome(before, Method.UNLINK, recipient.id, plans)
        assert outcome is not None and outcome.after.payer in (if_operator, otherwise)
        return Accepted(done.offer, outcome)

    async def _receive(
        self,
        pg: PgStatements,
        offer_id: int,
        recipient: TelegramUser,
        now: datetime,
        new_user_plan: tuple[str, int | None],
    ) -> Accepted | None:
        view = await pg.receive_view(offer_id, recipient.id)
        if view is None:
            return None
        holding, offer = view.account, view.offer
        if transfers.refusal(offer, holding.owner_id, recipient.id, now) is not None:
            return None  # the Core step records it and says so
        if offer.method is Method.UNLINK and holding.via_link:
            return None  # its unused links are revoked by the Core step
        party = transfers.payer_party(holding, offer.method, recipient.id)
        plans = None
        if party is not None:
            subs = view.owner_subs if party == holding.owner_id else view.recipient_subs
            if party == recipient.id and not view.recipient_known:  # stored with this plan
                subs = [Subscription(0, recipient.id, *new_user_plan)]
            if (plans := _uncounted(subs)) is None:
                return None
        outcome = self._outcome(holding, offer.method, recipient.id, plans)
        if outcome is None:
            return None
        if not await pg.receive_write(holding, offer_id, recipient, now, new_user_plan, outcome):
            return None
        offer.accept(recipient.id, now)
        return Accepted(offer, outcome)

    @staticmethod
    def _outcome(
        holding: Holding,
        method: Method,
        to: int,
        plans: Entitlements | None,
        action: str = transfers.RECEIVED,
        end_offers: bool = False,
    ) -> TransferOutcome | None:
        try:
            return transfers.decide(
                holding, method, to, plans, action=action, end_offers=end_offers
            )
        except TelesipError:
            return None  # the Core step raises it

    async def take_back(
        self, account_id: int, actor_id: int, password: str, now: datetime, *, apply: bool
    ) -> TransferOutcome | Refused | None:
        """With the right password, two statements and no transaction around them: the
        account read (no lock), then one call that locks it if it is still as read, checks on
        a snapshot taken after the lock that the pair is not locked out by wrong guesses (and
        the rest the decision rested on), and clears the guesses, moves it, ends its pending
        offer and audits; or writes nothing (then the Core step)."""
        pg = await self._first_statements() if apply else None
        if pg is not None:
            done = await self._take_back(pg, account_id, actor_id, password, now)
            if done is not None:
                return done
        return await super().take_back(account_id, actor_id, password, now, apply=apply)

    async def _take_back(
        self, pg: PgStatements, account_id: int, actor_id: int, password: str, now: datetime
    ) -> TransferOutcome | None:
        view = await pg.transfer_back_view(account_id, actor_id)
        if view is None or view.account.owner_id == actor_id or not view.given:
            return None
        holding = view.account
        if holding.via_link or not self.cipher.matches(view.password_enc, password):
            return None  # link revocation, and wrong guesses, are the Core step's
        party = transfers.payer_party(holding, Method.UNLINK, actor_id)
        plans = None
        if party is not None and (plans := _uncounted(view.actor_subs)) is None:
            return None
        outcome = self._outcome(
            holding, Method.UNLINK, actor_id, plans, transfers.TRANSFERRED_BACK, end_offers=True
        )
        if outcome is None:
            return None
        if not await pg.transfer_back_write(view, actor_id, now, outcome):
            return None
        return outcome
