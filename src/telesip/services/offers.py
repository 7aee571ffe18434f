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
from dataclasses import dataclass, replace
from datetime import timedelta

from telesip.domain import errors, events, transfers
from telesip.domain.model import (
    Account,
    Method,
    Offer,
    OfferKind,
    OfferState,
    Role,
    TelegramUser,
)
from telesip.services.common import default_subscription, load_account
from telesip.services.dependencies import Dependencies
from telesip.store.repositories.transfers import Refused
from telesip.store.uow import UnitOfWork


async def create_offer(
    deps: Dependencies, actor: TelegramUser, account_id: int, method: Method
) -> Offer:
    """R3: a Receive-able offer, alive ``offer_ttl_seconds``; replaces the account's last one."""
    offer = await _offer(deps, actor.id, account_id, method, None)
    assert offer is not None  # only a message can carry an offer already
    return offer


async def offer_on_message(
    deps: Dependencies, actor: TelegramUser, account_id: int, method: Method, inline_message_id: str
) -> Offer | None:
    """R3: the special message is in the chat; its offer lives from now on, carried by it.
    None: it carries one already (a Receive press was quicker and made it from the draft)."""
    return await _offer(deps, actor.id, account_id, method, inline_message_id)


async def _offer(
    deps: Dependencies,
    sender_id: int,
    account_id: int,
    method: Method,
    inline_message_id: str | None,
) -> Offer | None:
    async with deps.uow() as uow:
        offer = await _make(deps, uow, sender_id, account_id, method, inline_message_id)
        await uow.commit()
    return offer


async def _make(
    deps: Dependencies,
    uow: UnitOfWork,
    sender_id: int,
    account_id: int,
    method: Method,
    inline_message_id: str | None,
) -> Offer | None:
    offer = _draft(deps, uow, account_id, sender_id, method, OfferKind.TRANSFER, None)
    offer.inline_message_id = inline_message_id
    made = await uow.transfers.offer(offer)
    if made is None:
        return None
    uow.add_event(_created(offer, made.replaced_id))
    return offer


def _draft(
    deps: Dependencies,
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
        expires_at=uow.now + timedelta(seconds=deps.rules.offer_ttl_seconds),
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


async def get_offer(deps: Dependencies, offer_id: int) -> Offer:
    async with deps.uow(readonly=True) as uow:
        offer = await uow.offers.get(offer_id)
    if offer is None:
        raise errors.OfferNotFound()
    return offer


async def cancel_offer(deps: Dependencies, actor: TelegramUser, offer_id: int) -> None:
    async with deps.uow() as uow:
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
    sender: TelegramUser | None = None  # read for a message to name them (receive_on_message)


async def receive(deps: Dependencies, actor: TelegramUser, offer_id: int) -> Received:
    """R3: the recipient presses Receive. Exactly once, within the lifetime, not the sender."""
    async with deps.uow() as uow:
        received = await _receive(deps, uow, actor, offer_id)
        await uow.commit()
    return received


async def _receive(
    deps: Dependencies, uow: UnitOfWork, actor: TelegramUser, offer_id: int
) -> Received:
    done = await uow.transfers.receive(offer_id, actor, uow.now, default_subscription(deps))
    if isinstance(done, Refused):
        await uow.commit()  # the offer is dead: recorded, then said
        raise done.error
    uow.add_event(done.outcome.event)
    offer, before = done.offer, done.outcome.before
    return Received(
        offer, before.account_id, offer.method, offer.sender_id, actor.id, before.user_id
    )


async def receive_on_message(
    deps: Dependencies,
    actor: TelegramUser,
    inline_message_id: str,
    draft: transfers.Draft | None = None,
) -> Received:
    """R3 Receive pressed on a special message: the offer it carries is received, and its
    sender read to be named. ``draft``: the message's signed draft, which makes the offer
    first if the chosen-result report has not (R3's lifetime and newest-send rules apply)."""
    if draft is not None:
        # The sender's act, in its own unit of work: the offer stands whether or not this
        # press receives it, as when the chosen-result report makes it.
        await _offer_from_draft(deps, inline_message_id, draft)
    async with deps.uow() as uow:
        offer = await uow.offers.by_inline_message(inline_message_id)
        if offer is None:
            raise errors.OfferNotFound()
        received = await _receive(deps, uow, actor, offer.id)
        sender = await uow.users.get(received.sender_id)
        await uow.commit()
    return replace(received, sender=sender)


async def _offer_from_draft(
    deps: Dependencies, inline_message_id: str, draft: transfers.Draft
) -> None:
    async with deps.uow() as uow:
        if await uow.offers.by_inline_message(inline_message_id) is not None:
            return  # made already (by the chosen-result report, or a quicker press)
        newest = await uow.offers.newest_created_at(draft.account_id)
        lifetime = timedelta(seconds=deps.rules.offer_ttl_seconds)
        refused = transfers.draft_refusal(draft, newest, deps.clock.now(), lifetime)
        if refused is not None:
            raise refused
        if await uow.users.get(draft.sender_id) is None:
            raise errors.OfferNotFound()
        await _make(deps, uow, draft.sender_id, draft.account_id, draft.method, inline_message_id)
        await uow.commit()


async def receive_by_token(deps: Dependencies, actor: TelegramUser, token: str) -> Received:
    """Receive an offer from its deep link (an offer made through the API, R3 rules apply)."""
    async with deps.uow(readonly=True) as uow:
        offer_id = await uow.offers.id_by_token(token)
    if offer_id is None:
        raise errors.OfferNotFound()
    return await receive(deps, actor, offer_id)


@dataclass(frozen=True)
class SentBack:
    """R8 outcome: an assignment simply ended, or a Receive offer for the original sender."""

    account_id: int
    to_user_id: int
    offer: Offer | None
    to: TelegramUser | None = None  # read for a message to name them (send_back_on_message)


async def send_back(deps: Dependencies, actor: TelegramUser, account_id: int) -> SentBack:
    async with deps.uow() as uow:
        done = await _send_back(deps, uow, actor, await load_account(uow, account_id))
        await uow.commit()
    return done


async def send_back_on_message(
    deps: Dependencies, actor: TelegramUser, account_id: int, inline_message_id: str | None
) -> SentBack | None:
    """R8 confirmed on the message where the account was received: sent back, the offer for
    the original sender (if any) now carried by that message. None when the message is not
    about this account (a forged or outdated button); strangers learn nothing."""
    async with deps.uow() as uow:
        if not await _about(uow, account_id, inline_message_id):
            return None
        assert inline_message_id is not None
        account = await load_account(uow, account_id)
        account.require_visible(actor.id)
        done = await _send_back(deps, uow, actor, account)
        if done.offer is not None:
            await uow.offers.set_inline_message(done.offer.id, inline_message_id)
        to = await uow.users.get(done.to_user_id)
        await uow.commit()
    return replace(done, to=to)


async def _send_back(
    deps: Dependencies, uow: UnitOfWork, actor: TelegramUser, account: Account
) -> SentBack:
    account_id = account.id
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
        return SentBack(account_id, account.owner_id, None)
    account.require_owner(actor.id)
    received = await _received_from(uow, actor.id, account_id)
    if received is None:
        raise errors.InvalidInput(
            f"You did not receive SIP account #{account_id} from anyone; nothing to send back."
        )
    offer = _draft(
        deps, uow, account_id, actor.id, Method.UNLINK, OfferKind.SEND_BACK, received.sender_id
    )
    uow.add_event(_created(offer, await uow.transfers.add_offer(offer)))
    return SentBack(account_id, received.sender_id, offer)


async def _received_from(uow: UnitOfWork, actor_id: int, account_id: int) -> Offer | None:
    """The unlink transfer by which ``actor_id`` last received the account (R8's target)."""
    return await uow.offers.last_accepted(
        account_id,
        method=Method.UNLINK.value,
        recipient_id=actor_id,
        kind=OfferKind.TRANSFER.value,
    )


async def _about(uow: UnitOfWork, account_id: int, inline_message_id: str | None) -> bool:
    """The message really carries ``account_id`` (a forged id cannot retarget it)."""
    if not inline_message_id:
        return False
    offer = await uow.offers.by_inline_message(inline_message_id)
    if offer is None:
        raise errors.OfferNotFound()
    return offer.account_id == account_id


@dataclass(frozen=True)
class SendBackTarget:
    """Who a Send back would return the account to, and the presser's role (R8)."""

    role: Role
    to: TelegramUser


async def send_back_target(
    deps: Dependencies, actor: TelegramUser, account_id: int, inline_message_id: str | None
) -> SendBackTarget | None:
    """R8, before confirming: the target of a Send back pressed on this message; None when
    the message or the account has moved on. Strangers learn nothing (AccountNotFound)."""
    async with deps.uow(readonly=True) as uow:
        account = await load_account(uow, account_id, lock=False)
        role = account.require_visible(actor.id)
        if role is Role.USER:
            sender_id: int | None = account.owner_id
        else:
            received = await _received_from(uow, actor.id, account_id)
            sender_id = received.sender_id if received is not None else None
        if sender_id is None or not await _about(uow, account_id, inline_message_id):
            return None
        to = await uow.users.get(sender_id)
    return None if to is None else SendBackTarget(role, to)


async def transfer_back(
    deps: Dependencies, actor: TelegramUser, account_id: int, password: str, *, apply: bool = True
) -> bool:
    """R7: the former owner takes an unlinked account back with its SIP password.

    With ``apply=False`` it only checks the password (the inline query, one per keystroke);
    both count toward the guessing limit. Raises WrongPassword, TooManyAttempts, or
    AccountNotFound when the new owner deleted it.
    """
    await _transfer_back(deps, actor, account_id, password, apply=apply)
    return True


async def transfer_back_from(
    deps: Dependencies, actor: TelegramUser, account_id: int, password: str
) -> int:
    """R7 applied, as ``transfer_back``; returns whom it was taken from (to tell them)."""
    done = await _transfer_back(deps, actor, account_id, password, apply=True)
    assert done is not None
    return done.before.owner_id


async def _transfer_back(
    deps: Dependencies, actor: TelegramUser, account_id: int, password: str, *, apply: bool
) -> transfers.TransferOutcome | None:
    async with deps.uow() as uow:
        done = await uow.transfers.take_back(account_id, actor.id, password, uow.now, apply=apply)
        if isinstance(done, Refused):
            await uow.commit()  # the wrong guess counts
            raise done.error
        if done is not None:
            uow.add_event(done.event)
        await uow.commit()
    return done
