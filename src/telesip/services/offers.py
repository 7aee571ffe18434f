"""Transfer use cases: offer (R3 with R4/R6), receive, send back (R8), transfer back (R7).

Concurrency: every use case locks the account row first, then re-reads the offer, so twenty
people pressing Receive at once are served one after another and exactly one wins; the offer
itself also flips from pending to accepted with a conditional UPDATE that checks the lifetime
in the same statement, so an offer received in the instant it expires takes effect at most once.

On PostgreSQL, offer, receive and transfer back first try the hot path (``store/hot.py``):
the same lock, the same domain decisions on the rows read, the writes and the audit row in one
statement. Whatever it does not complete (every error, and the rarer cases) goes on to the
Core path below it, which is the one that says why.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from telesip.domain import errors, events, transfers
from telesip.domain.errors import TelesipError
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
from telesip.domain.plans import PLANS, Entitlements, Subscription
from telesip.services.common import default_subscription, ensure_user, entitlements, load_account
from telesip.services.context import Services
from telesip.store.uow import UnitOfWork

if TYPE_CHECKING:
    from telesip.store.hot import HotTransfers


async def create_offer(s: Services, actor: TelegramUser, account_id: int, method: Method) -> Offer:
    """R3: a Receive-able offer, alive ``offer_ttl_seconds``; replaces the account's last one."""
    async with s.uow() as uow:
        hot = await uow.hot()
        made = hot and await _create_offer_hot(s, uow, hot, actor, account_id, method)
        if made:  # else nothing was written (one statement, no transaction left open)
            await uow.commit()
            return made
        account = await load_account(uow, account_id)
        account.require_owner(actor.id)
        if account.via_link:
            raise errors.ManagedByLink(account_id=account_id)
        if method is Method.ASSIGN:
            (await entitlements(uow, actor.id, lock=False)).require_assign()
        offer = await _new_offer(s, uow, account, actor.id, method, OfferKind.TRANSFER, None)
        await uow.commit()
    return offer


async def _create_offer_hot(
    s: Services,
    uow: UnitOfWork,
    hot: HotTransfers,
    actor: TelegramUser,
    account_id: int,
    method: Method,
) -> Offer | None:
    """create_offer in one statement whose conditions are the rules above: the sender owns
    the account, it is not link-managed, and for an assignment one of the sender's plans
    allows it (every plan known, as ``get_plan`` requires). None: nothing written."""
    assigning = [p.name for p in PLANS.values() if p.can_assign]
    offer = Offer(
        id=0,
        account_id=account_id,
        sender_id=actor.id,
        method=method,
        kind=OfferKind.TRANSFER,
        created_at=uow.now,
        expires_at=uow.now + timedelta(seconds=s.rules.offer_ttl_seconds),
        token=secrets.token_urlsafe(12),
    )
    assert offer.token is not None
    made = await hot.offer(
        account_id,
        actor.id,
        method,
        offer.token,
        uow.now,
        offer.expires_at,
        assigning if method is Method.ASSIGN else None,
        list(PLANS),
    )
    if made is None:
        return None
    offer.id, replaced = made
    uow.add_event(
        events.OfferCreated(
            account_id,
            actor.id,
            offer_id=offer.id,
            method=method.value,
            replaced_offer_id=replaced,
        )
    )
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
        hot = await uow.hot()
        received = hot and await _receive_hot(s, uow, hot, actor, offer_id)
        if received:  # else nothing was written (each hot statement is its own transaction)
            await uow.commit()
            return received
        await ensure_user(s, uow, actor)
        account = await uow.accounts.of_offer(offer_id)  # locks the account's row
        # read the offer only now: a row fetched before the lock could be stale
        offer = await uow.offers.get(offer_id)
        if account is None or offer is None:
            raise errors.OfferNotFound()
        account_id = account.id
        refused = transfers.refusal(offer, account.owner_id, actor.id, uow.now)
        if refused is not None:
            if refused.offer_state is not None:  # the offer is dead: record it, then say so
                await uow.offers.set_state(offer_id, refused.offer_state, uow.now)
                await uow.commit()
            raise refused.error
        if not await uow.offers.accept(offer_id, actor.id, uow.now):
            raise errors.ConflictError()
        offer.accept(actor.id, uow.now)
        # the accepted offer was the account's only pending one: none left to end
        await _apply(uow, account, offer.method, actor.id, transfers.RECEIVED, end_offers=False)
        await uow.commit()
    return Received(offer, account_id, offer.method, offer.sender_id, actor.id, account.user_id)


async def _receive_hot(
    s: Services, uow: UnitOfWork, hot: HotTransfers, actor: TelegramUser, offer_id: int
) -> Received | None:
    """receive() for the plain case: the offer read with its account, the same domain checks
    as below, then one statement that locks the account if it is still as read, accepts
    (exactly once), stores the new user, moves the account and audits. None for anything
    else (nothing written). No transaction spans the two: each statement is one.

    An unlink to someone whose subscriptions were read before takes one statement: the payer
    is decided on those, and the statement checks they are unchanged."""
    seen = hot.seen_subscriptions(actor.id)
    if seen is not None and (done := await _receive_unlink_hot(uow, hot, actor, offer_id, seen)):
        return done
    view = await hot.receive_view(offer_id, actor.id)
    if view is None:
        return None
    holding, offer, now = view.account, view.offer, uow.now
    if not offer.is_live(now) or offer.sender_id != holding.owner_id:
        return None  # expired, taken, cancelled...: the Core path records it and says so
    party = transfers.payer_party(holding, offer.method, actor.id)
    plans = None
    if party is not None:
        subs = view.owner_subs if party == holding.owner_id else view.recipient_subs
        if party == actor.id and not view.recipient_known:  # ensure_user gives the default
            subs = [Subscription(0, actor.id, *default_subscription(s))]
        plans = Entitlements.of(subs, 0, 0)
        if plans.counts_usage:
            return None  # the usage is counted under the Core path's locks
    if offer.method is Method.UNLINK and holding.via_link:
        return None  # its unused links are revoked by the Core path
    try:
        offer.accept(actor.id, now)
        out = transfers.decide(
            holding, offer.method, actor.id, plans, action=transfers.RECEIVED, end_offers=False
        )
    except TelesipError:
        return None
    written = await hot.receive_write(
        holding,
        offer_id,
        actor,
        now,
        default_subscription(s),
        out.after.owner_id,
        out.after.user_id,
        out.after.payer,
        out.after.via_link,
        out.action,
        out.details,
    )
    if not written:
        return None
    uow.add_event(out.event)
    return Received(
        offer, holding.account_id, offer.method, offer.sender_id, actor.id, holding.user_id
    )


async def _receive_unlink_hot(
    uow: UnitOfWork,
    hot: HotTransfers,
    actor: TelegramUser,
    offer_id: int,
    subs: list[Subscription],
) -> Received | None:
    try:
        plans = Entitlements.of(subs, 0, 0)
        if plans.counts_usage:
            return None
        # the statement takes whichever applies to the account as it finds it
        if_operator = transfers.payer_after(Method.UNLINK, Payer.OPERATOR, None)
        otherwise = transfers.payer_after(Method.UNLINK, Payer.START, plans)
    except TelesipError:
        return None
    done = await hot.receive_unlink(offer_id, actor.id, uow.now, subs, if_operator, otherwise)
    if done is None:
        return None
    offer = done.offer
    uow.add_event(
        events.OwnershipTransferred(
            offer.account_id,
            actor.id,
            from_owner_id=done.from_owner_id,
            to_owner_id=actor.id,
            previous_user_id=done.previous_user_id,
        )
    )
    return Received(
        offer, offer.account_id, offer.method, offer.sender_id, actor.id, done.previous_user_id
    )


async def _apply(
    uow: UnitOfWork,
    account: Account,
    method: Method,
    to: int,
    action: str,
    *,
    end_offers: bool,
) -> None:
    """R4/R6/R7/R8 on the Core path: read the plans the payer depends on (the rows locked where
    usage counts), let the domain decide, write the outcome with its audit record and event."""
    holding = transfers.Holding(
        account.id, account.owner_id, account.user_id, account.payer, account.via_link
    )
    party = transfers.payer_party(holding, method, to)
    plans = None if party is None else await entitlements(uow, party)
    out = transfers.decide(holding, method, to, plans, action=action, end_offers=end_offers)
    after = out.after
    if method is Method.ASSIGN:
        await uow.accounts.update(
            account.id, uow.now, user_id=after.user_id, payer=after.payer.value
        )
    else:
        await uow.accounts.move(
            account.id, after.owner_id, after.user_id, after.payer, after.via_link, uow.now
        )
    if out.end_offers:  # the previous owner's offer must not move it on behind the new owner
        await uow.offers.close_pending(account.id, uow.now, OfferState.CANCELLED)
    if out.revoke_links:  # only link-managed accounts have links
        await uow.links.revoke_unused_for(account.id, uow.now)
    await uow.record(out.action, account.id, out.actor_id, out.details, out.event)


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
        hot = await uow.hot() if apply else None
        if hot is not None:
            if await _transfer_back_hot(s, uow, hot, actor, account_id, password):
                await uow.commit()
                return True
            await hot.close()  # rolled back: the Core path starts afresh
        account = await load_account(uow, account_id)
        if account.owner_id == actor.id:
            raise errors.AlreadyYours(account_id=account_id)
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
            await _apply(
                uow, account, Method.UNLINK, actor.id, transfers.TRANSFERRED_BACK, end_offers=True
            )
        await uow.commit()
    return True


async def _transfer_back_hot(
    s: Services,
    uow: UnitOfWork,
    hot: HotTransfers,
    actor: TelegramUser,
    account_id: int,
    password: str,
) -> bool:
    """transfer_back(apply=True) with the right password, in two statements: the account
    locked and read, then one that clears the guesses, moves it, ends its pending offer and
    audits. The guessing state it cleared is checked before committing: a locked pair rolls
    back. False: not done, and what was written is rolled back."""
    await hot.begin()
    view = await hot.transfer_back_view(account_id, actor.id)
    if view is None or view.account.owner_id == actor.id or not view.given:
        return False
    account = view.account
    if account.via_link or not s.cipher.matches(view.password_enc, password):
        return False  # link revocation, and wrong guesses, are the Core path's
    party = transfers.payer_party(account, Method.UNLINK, actor.id)
    plans = None if party is None else Entitlements.of(view.actor_subs, 0, 0)
    if plans is not None and plans.counts_usage:
        return False
    try:
        out = transfers.decide(
            account,
            Method.UNLINK,
            actor.id,
            plans,
            action=transfers.TRANSFERRED_BACK,
            end_offers=True,
        )
    except TelesipError:
        return False
    after = out.after
    cleared = await hot.transfer_back_write(account_id, actor.id, uow.now, after.payer, out.details)
    if cleared is not None and cleared.locked(uow.now):
        return False
    uow.add_event(out.event)
    return True
