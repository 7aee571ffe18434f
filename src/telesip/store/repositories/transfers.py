"""Transfers of an account (R3 offer, receive, R7 transfer back, R8's offer), as Core
statements: read what the rule needs under the account's row lock, let ``domain.transfers``
decide, write its outcome with the audit row.

Nothing here decides: the checks are the domain's (``Account.require_owner``,
``transfers.refusal``, ``transfers.decide``, ``GuessState``). Each step locks the account row
first and only then reads the offer or the guesses, so concurrent steps on one account run one
after another; the offer flips from pending to accepted in a conditional UPDATE that checks
its lifetime, so it is received at most once. On PostgreSQL the unit of work binds
``PgTransfers`` (transfers_pg.py), which does the same steps in fewer statements.

Errors that change nothing are raised. A refusal that the step recorded (an expired offer, a
wrong password counted) comes back as ``Refused``: the use case commits it, then raises it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain import errors, transfers
from telesip.domain.guessing import GuessState
from telesip.domain.model import Account, Method, Offer, OfferState, TelegramUser
from telesip.domain.transfers import Holding, TransferOutcome
from telesip.store.crypto import Cipher
from telesip.store.repositories.accounts import Accounts
from telesip.store.repositories.audit import Audit
from telesip.store.repositories.guesses import Guesses
from telesip.store.repositories.links import Links
from telesip.store.repositories.offers import Offers
from telesip.store.repositories.users import Users


@dataclass(frozen=True)
class Refused:
    """A refusal the step wrote down (commit, then raise ``error``)."""

    error: errors.TelesipError


@dataclass(frozen=True)
class Made:
    """An offer stored, and the pending one it replaced."""

    replaced_id: int | None


@dataclass(frozen=True)
class Accepted:
    """A received offer (as accepted) and what the transfer did to its account."""

    offer: Offer
    outcome: TransferOutcome


def holding_of(account: Account) -> Holding:
    return Holding(account.id, account.owner_id, account.user_id, account.payer, account.via_link)


class TransferRepositories(Protocol):
    """The repositories a transfer step writes through (the unit of work has them)."""

    users: Users
    accounts: Accounts
    offers: Offers
    links: Links
    audit: Audit
    guesses: Guesses


_REPOSITORIES = frozenset(TransferRepositories.__annotations__)


class Transfers:
    """The transfer steps on one unit of work's connection, with its repositories (taken
    from ``repos`` when a step first uses one: PostgreSQL's fast steps use none)."""

    users: Users
    accounts: Accounts
    offers: Offers
    links: Links
    audit: Audit
    guesses: Guesses

    def __init__(self, conn: AsyncConnection, cipher: Cipher, repos: TransferRepositories) -> None:
        self.conn = conn
        self.cipher = cipher
        self._repos = repos

    def __getattr__(self, name: str) -> Any:
        if name not in _REPOSITORIES:
            raise AttributeError(name)
        repo = getattr(self._repos, name)
        setattr(self, name, repo)
        return repo

    async def offer(self, offer: Offer) -> Made | None:
        """R3: store ``offer`` (its id set) if its sender may offer the account by its method;
        it replaces the account's pending one. None: its message (``inline_message_id``)
        carries an offer already, made from the message's draft by a quicker Receive press."""
        message = offer.inline_message_id
        if message is not None and await self.offers.by_inline_message(message) is not None:
            return None
        account = await self.accounts.get(offer.account_id, lock=True)
        if account is None:
            raise errors.AccountNotFound(account_id=offer.account_id)
        account.require_owner(offer.sender_id)
        if account.via_link:
            raise errors.ManagedByLink(account_id=account.id)
        if offer.method is Method.ASSIGN:
            (await self.users.entitlements(offer.sender_id, lock=False)).require_assign()
        return Made(await self.add_offer(offer))

    async def add_offer(self, offer: Offer) -> int | None:
        """Store ``offer`` (its id set) in place of the account's pending one (whose id is
        returned), with its audit row; the account is locked and the rules checked."""
        replaced = await self.offers.close_pending(offer.account_id, offer.created_at)
        offer.id = await self.offers.add(offer)
        await self.audit.add(
            offer.created_at,
            offer.sender_id,
            offer.account_id,
            "offer_created",
            {"offer_id": offer.id, "method": offer.method.value, "kind": offer.kind.value},
        )
        return replaced[0] if replaced else None

    async def receive(
        self,
        offer_id: int,
        recipient: TelegramUser,
        now: datetime,
        new_user_plan: tuple[str, int | None],
    ) -> Accepted | Refused:
        """R3 Receive: exactly once, within the lifetime, not the sender; then R4 or R6.
        ``recipient`` is stored first if new, with ``new_user_plan``."""
        await self.users.ensure(recipient, now, *new_user_plan)
        account = await self.accounts.of_offer(offer_id)  # locks the account's row
        # read the offer only now: a row fetched before the lock could be stale
        offer = await self.offers.get(offer_id)
        if account is None or offer is None:
            raise errors.OfferNotFound()
        refused = transfers.refusal(offer, account.owner_id, recipient.id, now)
        if refused is not None:
            if refused.offer_state is None:
                raise refused.error
            await self.offers.set_state(offer_id, refused.offer_state, now)
            return Refused(refused.error)
        if not await self.offers.accept(offer_id, recipient.id, now):
            raise errors.ConflictError()
        offer.accept(recipient.id, now)
        # the accepted offer was the account's only pending one: none left to end
        outcome = await self._decide(
            holding_of(account), offer.method, recipient.id, transfers.RECEIVED, end_offers=False
        )
        await self.write(outcome, now)
        return Accepted(offer, outcome)

    async def take_back(
        self, account_id: int, actor_id: int, password: str, now: datetime, *, apply: bool
    ) -> TransferOutcome | Refused | None:
        """R7: the former owner takes an unlinked account back with its SIP password (rate
        limited); with ``apply=False`` only the password is checked (None when right)."""
        account = await self.accounts.get(account_id, lock=True)
        if account is None:
            raise errors.AccountNotFound(account_id=account_id)
        if account.owner_id == actor_id:
            raise errors.AlreadyYours(account_id=account_id)
        if await self.offers.last_given(account_id, actor_id) is None:
            raise errors.AccountNotFound(account_id=account_id)
        stored = await self.guesses.get(actor_id, account_id)
        state = stored or GuessState(window_start=now)
        if state.locked(now):
            raise errors.TooManyAttempts(minutes=state.minutes_left(now))
        if not hmac.compare_digest(account.settings.password.reveal().encode(), password.encode()):
            state = state.after_wrong(
                now,
                self.cipher.mac(actor_id, account_id, password),
                self.cipher.mac(actor_id, account_id, password[:-1]),
            )
            await self.guesses.save(actor_id, account_id, state)
            if state.locked(now):
                return Refused(errors.TooManyAttempts(minutes=state.minutes_left(now)))
            return Refused(errors.WrongPassword())
        if stored is not None:
            await self.guesses.clear(actor_id, account_id)
        if not apply:
            return None
        outcome = await self._decide(
            holding_of(account),
            Method.UNLINK,
            actor_id,
            transfers.TRANSFERRED_BACK,
            end_offers=True,
        )
        await self.write(outcome, now)
        return outcome

    async def _decide(
        self, holding: Holding, method: Method, to: int, action: str, *, end_offers: bool
    ) -> TransferOutcome:
        """The domain's outcome on the plans the payer depends on (their usage counted under
        the payer's row lock where a limit makes it matter)."""
        party = transfers.payer_party(holding, method, to)
        plans = None if party is None else await self.users.entitlements(party)
        return transfers.decide(holding, method, to, plans, action=action, end_offers=end_offers)

    async def write(self, outcome: TransferOutcome, now: datetime) -> None:
        """The outcome as rows: the account's holding, what the move ends, the audit row."""
        after = outcome.after  # an assignment keeps the owner and via_link: written as they are
        await self.accounts.move(
            after.account_id, after.owner_id, after.user_id, after.payer, after.via_link, now
        )
        if outcome.end_offers:  # the previous owner's offer must not move it on
            await self.offers.close_pending(after.account_id, now, OfferState.CANCELLED)
        if outcome.revoke_links:  # only link-managed accounts have links
            await self.links.revoke_unused_for(after.account_id, now)
        await self.audit.add(
            now, outcome.actor_id, after.account_id, outcome.action, outcome.details
        )
