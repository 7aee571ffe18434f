"""Transfer use cases: offer (R3 with R4/R6), receive, send back (R8), transfer back (R7).

Each is one unit of work. The transfer steps themselves are ``uow.transfers`` (store/
repositories/transfers.py): the account row locked, then the offer re-read, the domain
deciding (``domain.transfers``), the outcome and its audit row written; on PostgreSQL the
same in fewer statements. Here: the offer's lifetime and token, the event, the commit, and
the commit of a refusal the step recorded (an expired offer, a counted wrong password) before
it is raised.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from telesip.domain import errors, events
from telesip.domain.model import Method, Offer, OfferKind, OfferState, TelegramUser
from telesip.services.common import default_subscription, load_account
from telesip.services.context import Services
from telesip.store.repositories.transfers import Refused
from telesip.store.uow import UnitOfWork


async def create_offer(s: Services, actor: TelegramUser, account_id: int, method: Method) -> Offer:
    """R3: a Receive-able offer, alive ``offer_ttl_seconds``; replaces the account's last one."""
    async with s.uow() as uow:
        offer = _draft(s, uow, account_id, actor.id, method, OfferKind.TRANSFER, None)
        replaced = await uow.transfers.offer(offer)
        uow.add_event(_created(offer, replaced))
        await uow.commit()
    return offer


def _draft(
    s: Services,
    uow: UnitOfWork,
    account_id: int,
    sender_id: int,
    method: Method,
    kind: OfferKind,
    only_for: int | None,
) -> Offer:
    return Offer(
        id=0,
        account_id=account_id,
        sender_id=sender_id,
        method=method,
        kind=kind,
        created_at=uow.now,
        expires_at=uow.now + timedelta(seconds=s.rules.offer_ttl_seconds),
        only_for_id=only_for,
        token=secrets.token_urlsafe(12),
    )


def _created(offer: Offer, replaced: int | None) -> events.OfferCreated:
    return events.OfferCreated(
        offer.account_id,
        offer.sender_id,
        offer_id=offer.id,
        method=offer.method.value,
        replaced_offer_id=replaced,
    )


async def get_offer(s: Services, offer_id: int) -> Offer:
    async with s.uow(readonly=True) as uow:
        offer = await uow.offers.get(offer_id)
    if offer is None:
        raise errors.OfferNotFound()
    return offer


async def attach_inline_message(
    s: Services, actor: TelegramUser, offer_id: int, inline_message_id: str
) -> None:
    """Remember which inline message carries the offer, so it can be edited later."""
    async with s.uow() as uow:
        offer = await uow.offers.get(offer_id)
        if offer is None or offer.sender_id != actor.id:
            raise errors.OfferNotFound()
        await uow.offers.set_inline_message(offer_id, inline_message_id)
        await uow.commit()


async def cancel_offer(s: Services, actor: TelegramUser, offer_id: int) -> None:
    async with s.uow() as uow:
        account_id = await uow.offers.account_of(offer_id)
        if account_id is None:
            raise errors.OfferNotFound()
        await load_account(uow, account_id)
        offer = await uow.offers.get(offer_id)
        if offer is None or offer.sender_id != actor.id:
            raise errors.OfferNotFound()
        if offer.state is OfferState.PENDING:
            await uow.offers.set_state(offer_id, OfferState.CANCELLED, uow.now)
            await uow.record("offer_cancelled", account_id, actor.id, {"offer_id": offer_id})
            await uow.commit()


@dataclass(frozen=True)
class Received:
    offer: Offer
    account_id: int
    method: Method
    sender_id: int
    recipient_id: int
    previous_user_id: int


async def receive(s: Services, actor: TelegramUser, offer_id: int) -> Received:
    """R3: the recipient presses Receive. Exactly once, within the lifetime, not the sender."""
    async with s.uow() as uow:
        done = await uow.transfers.receive(offer_id, actor, uow.now, default_subscription(s))
        if isinstance(done, Refused):
            await uow.commit()  # the offer is dead: recorded, then said
            raise done.error
        uow.add_event(done.outcome.event)
        await uow.commit()
    offer, before = done.offer, done.outcome.before
    return Received(
        offer, before.account_id, offer.method, offer.sender_id, actor.id, before.user_id
    )


async def receive_by_token(s: Services, actor: TelegramUser, token: str) -> Received:
    """Receive an offer from its deep link (an offer made through the API, R3 rules apply)."""
    async with s.uow(readonly=True) as uow:
        offer_id = await uow.offers.id_by_token(token)
    if offer_id is None:
        raise errors.OfferNotFound()
    return await receive(s, actor, offer_id)


@dataclass(frozen=True)
class SentBack:
    """R8 outcome: an assignment simply ended, or a Receive offer for the original sender."""

    account_id: int
    to_user_id: int
    offer: Offer | None


async def send_back(s: Services, actor: TelegramUser, account_id: int) -> SentBack:
    async with s.uow() as uow:
        account = await load_account(uow, account_id)
        if account.assigned and account.user_id == actor.id:
            await uow.accounts.update(account_id, uow.now, user_id=account.owner_id)
            await uow.record(
                "sent_back",
                account_id,
                actor.id,
                {"to_user_id": account.owner_id},
                events.AssignmentEnded(
                    account_id,
                    actor.id,
                    owner_id=account.owner_id,
                    previous_user_id=actor.id,
                    by_user=True,
                ),
            )
            await uow.commit()
            return SentBack(account_id, account.owner_id, None)
        account.require_owner(actor.id)
        received = await uow.offers.last_accepted(
            account_id,
            method=Method.UNLINK.value,
            recipient_id=actor.id,
            kind=OfferKind.TRANSFER.value,
        )
        if received is None:
            raise errors.InvalidInput(
                f"You did not receive SIP account #{account_id} from anyone; nothing to send back."
            )
        offer = _draft(
            s, uow, account_id, actor.id, Method.UNLINK, OfferKind.SEND_BACK, received.sender_id
        )
        uow.add_event(_created(offer, await uow.transfers.add_offer(offer)))
        await uow.commit()
    return SentBack(account_id, received.sender_id, offer)


async def transfer_back(
    s: Services, actor: TelegramUser, account_id: int, password: str, *, apply: bool = True
) -> bool:
    """R7: the former owner takes an unlinked account back with its SIP password.

    With ``apply=False`` it only checks the password (the inline query, one per keystroke);
    both count toward the guessing limit. Raises WrongPassword, TooManyAttempts, or
    AccountNotFound when the new owner deleted it.
    """
    async with s.uow() as uow:
        done = await uow.transfers.take_back(account_id, actor.id, password, uow.now, apply=apply)
        if isinstance(done, Refused):
            await uow.commit()  # the wrong guess counts
            raise done.error
        if done is not None:
            uow.add_event(done.event)
        await uow.commit()
    return True
