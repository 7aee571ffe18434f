"""The transfer decision (R3, R4, R6, R7, R8), written once: what an account becomes when it
changes hands, and why an offer cannot be received now.

Every writer (the Core statements and PostgreSQL's one-statement path, ``store/repositories/
transfers.py``) reads the facts, calls these functions, and writes the ``TransferOutcome``
they return; none of them decides who pays. Pure: no clock (``now`` is passed in), no I/O.

Who pays after a move (R4, R6, R11):
- an assignment (R4) keeps the owner, who pays from a seat: a per-account (Softphone-Start)
  account moves to a free seat or is refused; an operator-paid one stays operator-paid;
- an ownership move (R6 receive, R7 transfer back, R8 send back received) makes the recipient
  owner and user, who pays (Softphone-Start first, else a seat, else refused) unless the
  operator pays.
The payer is therefore always the operator, or a plan of the party ``payer_party`` names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telesip.domain import errors, events
from telesip.domain.model import Method, Offer, OfferState, Payer
from telesip.domain.plans import Entitlements

# Audit actions of the moves (the assignment's is ASSIGNED).
ASSIGNED = "assigned"
RECEIVED = "received"
TRANSFERRED_BACK = "transferred_back"


@dataclass(frozen=True)
class Holding:
    """Who holds an account and who pays for it: the columns a transfer decides on."""

    account_id: int
    owner_id: int
    user_id: int
    payer: Payer
    via_link: bool


@dataclass(frozen=True)
class TransferOutcome:
    """What to write after a transfer: the account's new holding, the audit record (never a
    secret in ``details``) and the event; ``revoke_links`` and ``end_offers`` say what else
    the move ends."""

    before: Holding
    after: Holding
    actor_id: int  # the audit record's actor: the person who now holds the account
    action: str
    details: dict[str, Any]
    event: events.Event
    revoke_links: bool  # a link-managed account's unused links must not assign it any more
    end_offers: bool  # pending offers of the previous owner must not move it on behind the new


@dataclass(frozen=True)
class Refusal:
    """Why an offer cannot be received now, and the state it takes if that ends it (to be
    written and committed before the error is shown)."""

    error: errors.TelesipError
    offer_state: OfferState | None = None


def refusal(offer: Offer, owner_id: int, by: int, now: datetime) -> Refusal | None:
    """R3: None when ``by`` may receive ``offer`` now from the account's current owner.

    An offer past its lifetime becomes expired; one whose sender no longer owns the account
    (it moved since the offer was made) becomes cancelled; the other reasons change nothing.
    """
    if offer.state is OfferState.PENDING and now >= offer.expires_at:
        return Refusal(errors.OfferExpired(), OfferState.EXPIRED)
    try:
        offer.check_acceptable(by, now)
    except errors.TelesipError as exc:
        return Refusal(exc)
    if offer.sender_id != owner_id:
        return Refusal(errors.OfferCancelled(), OfferState.CANCELLED)
    return None


@dataclass(frozen=True)
class Draft:
    """What a just-sent special message's Receive button carries before its offer exists:
    the account, the sender, the method, and when the bot offered that message (R3)."""

    account_id: int
    sender_id: int
    issued_at: datetime
    method: Method


def draft_refusal(
    draft: Draft, newest_offer_at: datetime | None, now: datetime, lifetime: timedelta
) -> errors.TelesipError | None:
    """R3 for an offer made from its draft: the draft lives as long as an offer would, and an
    offer made after it (a newer send) replaces it."""
    if now >= draft.issued_at + lifetime:
        return errors.OfferExpired()
    if newest_offer_at is not None and newest_offer_at > draft.issued_at:
        return errors.OfferReplaced()
    return None


def payer_party(holding: Holding, method: Method, to: int) -> int | None:
    """Whose entitlements decide the payer when ``holding`` goes to ``to`` by ``method``: the
    owner's for an assignment, the recipient's for a move; None when the operator keeps
    paying (nobody's plan matters)."""
    if method is Method.ASSIGN:
        return holding.owner_id
    return None if holding.payer is Payer.OPERATOR else to


def payer_after(method: Method, current: Payer, plans: Entitlements | None) -> Payer:
    """Who pays once the account is assigned (R4) or moved (R6); ``plans`` are the
    entitlements of ``payer_party`` (None only when that is nobody). Raises MethodNotAllowed
    (assigning without the office option) or SeatsExhausted."""
    if method is Method.ASSIGN:
        assert plans is not None, "an assignment is decided on the owner's plans"
        plans.require_assign()
        return plans.payer_for_assigned(current)
    if current is Payer.OPERATOR:
        return Payer.OPERATOR
    assert plans is not None, "a move off the operator is decided on the recipient's plans"
    return plans.payer_for_received_account()


def decide(
    holding: Holding,
    method: Method,
    to: int,
    plans: Entitlements | None,
    *,
    action: str,
    end_offers: bool,
) -> TransferOutcome:
    """The one transfer outcome: ``to`` becomes the user (ASSIGN) or the owner and user
    (UNLINK, under audit ``action``). ``plans``: the entitlements of ``payer_party``, with
    their usage wherever a limit is a positive number (``Entitlements.counts_usage``)."""
    payer = payer_after(method, holding.payer, plans)
    if method is Method.ASSIGN:
        after = Holding(holding.account_id, holding.owner_id, to, payer, holding.via_link)
        return TransferOutcome(
            before=holding,
            after=after,
            actor_id=to,
            action=ASSIGNED,
            details={"owner_id": holding.owner_id, "previous_user_id": holding.user_id},
            event=events.UserAssigned(
                holding.account_id,
                to,
                owner_id=holding.owner_id,
                user_id=to,
                previous_user_id=holding.user_id,
            ),
            revoke_links=False,
            end_offers=False,
        )
    return TransferOutcome(
        before=holding,
        after=Holding(holding.account_id, to, to, payer, False),
        actor_id=to,
        action=action,
        details={"from_owner_id": holding.owner_id, "payer": payer.value},
        event=events.OwnershipTransferred(
            holding.account_id,
            to,
            from_owner_id=holding.owner_id,
            to_owner_id=to,
            previous_user_id=holding.user_id,
        ),
        revoke_links=holding.via_link,
        end_offers=end_offers,
    )
