"""The pure transfer decision (domain/transfers.py): who holds and who pays after a transfer,
and why an offer cannot be received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telesip.domain import errors, events
from telesip.domain.model import Method, Offer, OfferKind, OfferState, Payer
from telesip.domain.plans import PLANS, Entitlements, Subscription
from telesip.domain.transfers import (
    RECEIVED,
    TRANSFERRED_BACK,
    Draft,
    Holding,
    decide,
    draft_refusal,
    payer_after,
    payer_party,
    refusal,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
OWNER, USER, TO = 1, 2, 3

limits = st.one_of(st.none(), st.integers(0, 3))
subscriptions = st.lists(
    st.builds(Subscription, st.just(0), st.just(0), st.sampled_from(sorted(PLANS)), limits),
    max_size=3,
)
plans = st.builds(Entitlements.of, subscriptions, st.integers(0, 4), st.integers(0, 4))
holdings = st.builds(
    Holding,
    st.just(7),
    st.just(OWNER),
    st.sampled_from([OWNER, USER]),
    st.sampled_from(list(Payer)),
    st.booleans(),
)


@given(holdings, st.sampled_from(list(Method)), plans, st.booleans())
def test_every_transfer_ends_with_one_payer_the_rules_name(
    holding: Holding, method: Method, ent: Entitlements, end_offers: bool
) -> None:
    party = payer_party(holding, method, TO)
    try:
        out = decide(
            holding,
            method,
            TO,
            ent if party is not None else None,
            action=RECEIVED,
            end_offers=end_offers,
        )
    except (errors.SeatsExhausted, errors.MethodNotAllowed):
        assert party is not None  # only someone's plan can refuse; the operator never does
        return
    after = out.after
    assert after.account_id == holding.account_id and out.before == holding
    assert out.actor_id == TO
    if method is Method.ASSIGN:  # R4: the owner keeps it and pays; the recipient uses it
        assert party == OWNER and ent.can_assign
        assert (after.owner_id, after.user_id, after.via_link) == (OWNER, TO, holding.via_link)
        assert after.payer is (Payer.OWNER_PLAN if holding.payer is Payer.START else holding.payer)
        assert isinstance(out.event, events.UserAssigned)
        assert out.details == {"owner_id": OWNER, "previous_user_id": holding.user_id}
        assert not out.revoke_links and not out.end_offers
    else:  # R6/R7/R8: the whole account moves; the recipient pays unless the operator does
        assert (after.owner_id, after.user_id, after.via_link) == (TO, TO, False)
        if holding.payer is Payer.OPERATOR:
            assert party is None and after.payer is Payer.OPERATOR
        else:
            assert party == TO and after.payer in (Payer.START, Payer.OWNER_PLAN)
            assert after.payer is Payer.START or ent.seat_free
        assert isinstance(out.event, events.OwnershipTransferred)
        assert out.event.from_owner_id == OWNER and out.event.previous_user_id == holding.user_id
        assert out.details == {"from_owner_id": OWNER, "payer": after.payer.value}
        assert out.revoke_links is holding.via_link and out.end_offers is end_offers


@given(st.sampled_from(list(Payer)), plans)
def test_the_payer_rule_is_the_plans_rule(current: Payer, ent: Entitlements) -> None:
    """payer_after only chooses which of Entitlements' rules applies (R4 vs R6)."""
    try:
        moved = payer_after(Method.UNLINK, current, ent)
    except errors.SeatsExhausted:
        assert current is not Payer.OPERATOR
    else:
        expected = Payer.OPERATOR if current is Payer.OPERATOR else ent.payer_for_received_account()
        assert moved is expected


def _ent(plan: str, seats: int | None, used: int = 0, start_used: int = 0) -> Entitlements:
    return Entitlements.of([Subscription(0, 0, plan, seats)], used, start_used)


def test_the_paths_named_in_the_rules() -> None:
    own = Holding(7, OWNER, OWNER, Payer.START, False)
    office = _ent("office", None)
    assert decide(own, Method.ASSIGN, TO, office, action="", end_offers=False).after.payer is (
        Payer.OWNER_PLAN
    )
    with pytest.raises(errors.MethodNotAllowed):
        decide(own, Method.ASSIGN, TO, _ent("free", 1), action="", end_offers=False)
    with pytest.raises(errors.SeatsExhausted):  # no free seat for a per-account line
        decide(own, Method.ASSIGN, TO, _ent("office", 1, used=1), action="", end_offers=False)
    start = _ent("softphone-start", None)
    back = decide(own, Method.UNLINK, TO, start, action=TRANSFERRED_BACK, end_offers=True)
    assert (back.action, back.after.payer, back.end_offers) == (TRANSFERRED_BACK, Payer.START, True)
    ops = Holding(7, OWNER, USER, Payer.OPERATOR, True)
    moved = decide(ops, Method.UNLINK, TO, None, action=RECEIVED, end_offers=False)
    assert moved.after == Holding(7, TO, TO, Payer.OPERATOR, False) and moved.revoke_links
    with pytest.raises(errors.SeatsExhausted):
        decide(own, Method.UNLINK, TO, _ent("free", 1, used=1), action="", end_offers=False)


def _offer(**kw: object) -> Offer:
    base: dict[str, object] = dict(
        id=1,
        account_id=7,
        sender_id=OWNER,
        method=Method.UNLINK,
        kind=OfferKind.TRANSFER,
        created_at=T0,
        expires_at=T0 + timedelta(minutes=5),
    )
    return Offer(**(base | kw))  # type: ignore[arg-type]


def test_refusals_say_why_and_which_end_the_offer() -> None:
    now = T0 + timedelta(minutes=1)
    assert refusal(_offer(), OWNER, TO, now) is None
    late = refusal(_offer(), OWNER, TO, T0 + timedelta(minutes=5))
    assert late is not None and isinstance(late.error, errors.OfferExpired)
    assert late.offer_state is OfferState.EXPIRED
    moved = refusal(_offer(), USER, TO, now)  # the sender no longer owns the account
    assert moved is not None and isinstance(moved.error, errors.OfferCancelled)
    assert moved.offer_state is OfferState.CANCELLED
    for offer, by, error in (
        (_offer(), OWNER, errors.OwnOffer),
        (_offer(state=OfferState.ACCEPTED), TO, errors.OfferAlreadyReceived),
        (_offer(state=OfferState.REPLACED), TO, errors.OfferReplaced),
        (_offer(state=OfferState.EXPIRED), TO, errors.OfferExpired),
        (_offer(only_for_id=USER), TO, errors.NotRecipient),
    ):
        found = refusal(offer, OWNER, by, now)
        assert found is not None and isinstance(found.error, error)
        assert found.offer_state is None  # already decided, or only this person's mistake


def test_a_draft_lives_as_long_as_an_offer_and_loses_to_a_newer_send() -> None:
    draft = Draft(7, OWNER, T0, Method.UNLINK)
    lifetime = timedelta(minutes=5)
    assert draft_refusal(draft, None, T0 + timedelta(minutes=4), lifetime) is None
    assert draft_refusal(draft, T0, T0, lifetime) is None  # its own offer, made at issue
    late = draft_refusal(draft, None, T0 + lifetime, lifetime)
    assert isinstance(late, errors.OfferExpired)
    newer = draft_refusal(draft, T0 + timedelta(seconds=1), T0, lifetime)
    assert isinstance(newer, errors.OfferReplaced)
