"""Transfer use cases: offer (R3 with R4/R6), receive, send back (R8), transfer back (R7).

Concurrency: every use case locks the account row first, then re-reads the offer, so twenty
people pressing Receive at once are served one after another and exactly one wins; the offer
itself also flips from pending to accepted with a conditional UPDATE that checks the lifetime
in the same statement, so an offer received in the instant it expires takes effect at most once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from telesip.domain import errors, events
from telesip.domain.guessing import GuessState
from telesip.domain.model import (
    Account,
    Method,
    Offer,
    OfferKind,
    OfferState,
    Payer,
    TelegramUser,
)
from telesip.services.common import ensure_user, entitlements, load_account
from telesip.services.context import Services
from telesip.store.uow import UnitOfWork


async def create_offer(s: Services, actor: TelegramUser, account_id: int, method: Method) -> Offer:
    """R3: a Receive-able offer, alive ``offer_ttl_seconds``; replaces the account's last one."""
    async with s.uow() as uow:
        account = await load_account(uow, account_id)
        account.require_owner(actor.id)
        if account.via_link:
            raise errors.InvalidInput(
                f"SIP account #{account_id} is handed out by a settings link; manage it in /links."
            )
        if method is Method.ASSIGN:
            (await entitlements(uow, actor.id, lock=False)).require_assign()
        offer = await _new_offer(s, uow, account, actor.id, method, OfferKind.TRANSFER, None)
        await uow.commit()
    return offer


async def _new_offer(
    s: Services,
    uow: UnitOfWork,
    account: Account,
    sender_id: int,
    method: Method,
    kind: OfferKind,
    only_for: int | None,
) -> Offer:
    replaced = await uow.offers.close_pending(account.id, uow.now)
    offer = Offer(
        id=0,
        account_id=account.id,
        sender_id=sender_id,
        method=method,
        kind=kind,
        created_at=uow.now,
        expires_at=uow.now + timedelta(seconds=s.rules.offer_ttl_seconds),
        only_for_id=only_for,
        token=secrets.token_urlsafe(12),
    )
    offer.id = await uow.offers.add(offer)
    await uow.record(
        "offer_created",
        account.id,
        sender_id,
        {"offer_id": offer.id, "method": method.value, "kind": kind.value},
        events.OfferCreated(
            account.id,
            sender_id,
            offer_id=offer.id,
            method=method.value,
            replaced_offer_id=replaced[0] if replaced else None,
        ),
    )
    return offer


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
        await ensure_user(s, uow, actor)
        account = await uow.accounts.of_offer(offer_id)  # locks the account's row
        # read the offer only now: a row fetched before the lock could be stale
        offer = await uow.offers.get(offer_id)
        if account is None or offer is None:
            raise errors.OfferNotFound()
        account_id = account.id
        if offer.state is OfferState.PENDING and uow.now >= offer.expires_at:
            await uow.offers.set_state(offer_id, OfferState.EXPIRED, uow.now)
            await uow.commit()
            raise errors.OfferExpired()
        offer.check_acceptable(actor.id, uow.now)
        if offer.sender_id != account.owner_id:  # ownership moved since the offer was made
            await uow.offers.set_state(offer_id, OfferState.CANCELLED, uow.now)
            await uow.commit()
            raise errors.OfferCancelled()
        if not await uow.offers.accept(offer_id, actor.id, uow.now):
            raise errors.ConflictError()
        offer.accept(actor.id, uow.now)
        if offer.method is Method.ASSIGN:
            await _assign(uow, account, actor.id)
        else:  # the accepted offer was the account's only pending one: none left to close
            await _move_ownership(uow, account, actor.id, "received", close_offers=False)
        await uow.commit()
    return Received(offer, account_id, offer.method, offer.sender_id, actor.id, account.user_id)


async def _assign(uow: UnitOfWork, account: Account, user_id: int) -> None:
    """R4: the recipient uses the account; the owner keeps it and pays with a seat."""
    ent = await entitlements(uow, account.owner_id)
    ent.require_assign()
    payer = ent.payer_for_assigned(account.payer)
    await uow.accounts.update(account.id, uow.now, user_id=user_id, payer=payer.value)
    await uow.record(
        "assigned",
        account.id,
        user_id,
        {"owner_id": account.owner_id, "previous_user_id": account.user_id},
        events.UserAssigned(
            account.id,
            user_id,
            owner_id=account.owner_id,
            user_id=user_id,
            previous_user_id=account.user_id,
        ),
    )


async def _move_ownership(
    uow: UnitOfWork, account: Account, new_owner: int, action: str, *, close_offers: bool = True
) -> None:
    """R6/R7/R8: the whole account moves; the new owner pays unless the operator does."""
    payer = Payer.OPERATOR
    if account.payer is not Payer.OPERATOR:
        payer = (await entitlements(uow, new_owner)).payer_for_received_account()
    await uow.accounts.move(account.id, new_owner, new_owner, payer, False, uow.now)
    if close_offers:  # the previous owner's offer must not move it on behind the new owner
        await uow.offers.close_pending(account.id, uow.now, OfferState.CANCELLED)
    if account.via_link:  # only link-managed accounts have links
        await uow.links.revoke_unused_for(account.id, uow.now)
    await uow.record(
        action,
        account.id,
        new_owner,
        {"from_owner_id": account.owner_id, "payer": payer.value},
        events.OwnershipTransferred(
            account.id,
            new_owner,
            from_owner_id=account.owner_id,
            to_owner_id=new_owner,
            previous_user_id=account.user_id,
        ),
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
        offer = await _new_offer(
            s, uow, account, actor.id, Method.UNLINK, OfferKind.SEND_BACK, received.sender_id
        )
        await uow.commit()
    return SentBack(account_id, received.sender_id, offer)


def _guess_hashes(
    s: Services, actor_id: int, account_id: int, password: str
) -> tuple[bytes, bytes]:
    return (
        s.cipher.mac(actor_id, account_id, password),
        s.cipher.mac(actor_id, account_id, password[:-1]),
    )


async def transfer_back(
    s: Services, actor: TelegramUser, account_id: int, password: str, *, apply: bool = True
) -> bool:
    """R7: the former owner takes an unlinked account back with its SIP password.

    With ``apply=False`` it only checks the password (the inline query, one per keystroke);
    both count toward the guessing limit. Raises WrongPassword, TooManyAttempts, or
    AccountNotFound when the new owner deleted it.
    """
    async with s.uow() as uow:
        account = await load_account(uow, account_id)
        if account.owner_id == actor.id:
            raise errors.InvalidInput(f"SIP account #{account_id} is already yours.")
        given = await uow.offers.last_given(account_id, actor.id)
        if given is None:
            raise errors.AccountNotFound(account_id=account_id)
        stored = await uow.guesses.get(actor.id, account_id)
        state = stored or GuessState(window_start=uow.now)
        if state.locked(uow.now):
            raise errors.TooManyAttempts(minutes=state.minutes_left(uow.now))
        if not hmac.compare_digest(account.settings.password.reveal().encode(), password.encode()):
            state = state.after_wrong(uow.now, *_guess_hashes(s, actor.id, account_id, password))
            await uow.guesses.save(actor.id, account_id, state)
            await uow.commit()
            if state.locked(uow.now):
                raise errors.TooManyAttempts(minutes=state.minutes_left(uow.now))
            raise errors.WrongPassword()
        if stored is not None:
            await uow.guesses.clear(actor.id, account_id)
        if apply:
            await _move_ownership(uow, account, actor.id, "transferred_back")
        await uow.commit()
    return True
