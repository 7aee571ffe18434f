"""One test per account-management rule (PRODUCT.md R1-R12), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from telesip.domain import errors, events
from telesip.domain.clock import FakeClock
from telesip.domain.model import Method, OfferState, Payer, RegState, Role
from telesip.services import accounts, billing, links, offers
from telesip.services import audit as audit_svc
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

from .helpers import ALICE, BOB, CAROL, DAVE, PASSWORD, Recorder, sip


async def _assign(deps: Dependencies, account_id: int, to=BOB) -> None:  # type: ignore[no-untyped-def]
    offer = await offers.create_offer(deps, ALICE, account_id, Method.ASSIGN)
    await offers.receive(deps, to, offer.id)


async def _unlink(deps: Dependencies, account_id: int, to=BOB) -> None:  # type: ignore[no-untyped-def]
    offer = await offers.create_offer(deps, ALICE, account_id, Method.UNLINK)
    await offers.receive(deps, to, offer.id)


async def test_r1_softphone_lists_owned_with_state_and_assigned_separately(
    deps: Dependencies,
) -> None:
    a1 = await accounts.create_account(deps, ALICE, sip("101"))
    a2 = await accounts.create_account(deps, ALICE, sip("102"))
    a3 = await accounts.create_account(deps, ALICE, sip("103"))
    await links.create_link_from_settings(deps, ALICE, sip("104"))  # R9: not in /softphone
    await _assign(deps, a2)
    await accounts.set_enabled(deps, ALICE, a3, False)
    await accounts.report_registration(deps, a1, "registered", 200)

    view = await accounts.softphone(deps, ALICE)
    assert [a.id for a in view.owned] == [a1, a2, a3]
    by_id = {a.id: a for a in view.owned}
    assert by_id[a1].reg_state == "registered" and by_id[a1].enabled
    assert by_id[a2].assigned and by_id[a2].user_label == "@bob"
    assert not by_id[a3].enabled and by_id[a3].reg_state == "disabled"
    assert view.assigned_to_me == []

    bob_view = await accounts.softphone(deps, BOB)
    assert bob_view.owned == []
    assert [a.id for a in bob_view.assigned_to_me] == [a2]


async def test_r2_owner_acts_without_the_users_consent_and_the_user_is_told(
    deps: Dependencies,
) -> None:
    rec = Recorder(deps)
    acc = await accounts.create_account(deps, ALICE, sip())
    await _assign(deps, acc)
    await accounts.update_settings(deps, ALICE, acc, display_name="Reception", port=5070)
    await accounts.set_enabled(deps, ALICE, acc, False)
    await accounts.set_enabled(deps, ALICE, acc, True)
    assert await accounts.take_back(deps, ALICE, acc) == BOB.id
    card = await accounts.get_card(deps, ALICE, acc)
    assert card.summary.user_id == ALICE.id and card.settings is not None
    assert card.settings["display_name"] == "Reception"
    ended = rec.of(events.AssignmentEnded)
    assert len(ended) == 1 and ended[0].previous_user_id == BOB.id  # type: ignore[attr-defined]
    await accounts.reassign(deps, ALICE, acc, CAROL)
    assert (await accounts.get_card(deps, CAROL, acc)).role is Role.USER
    assert await accounts.delete_account(deps, ALICE, acc) is True
    deleted = rec.of(events.AccountDeleted)
    assert deleted and deleted[0].user_id == CAROL.id  # type: ignore[attr-defined]
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_card(deps, ALICE, acc)


async def test_r3_receive_within_lifetime_one_pending_offer_not_the_sender(
    deps: Dependencies, clock: FakeClock
) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    first = await offers.create_offer(deps, ALICE, acc, Method.ASSIGN)
    assert (first.expires_at - first.created_at).total_seconds() == 300
    with pytest.raises(errors.OwnOffer):
        await offers.receive(deps, ALICE, first.id)
    second = await offers.create_offer(deps, ALICE, acc, Method.ASSIGN)  # replaces the first
    with pytest.raises(errors.OfferReplaced):
        await offers.receive(deps, BOB, first.id)
    clock.advance(300)  # exactly the lifetime: dead
    with pytest.raises(errors.OfferExpired):
        await offers.receive(deps, BOB, second.id)
    with pytest.raises(errors.OfferExpired):  # and it stays dead
        await offers.receive(deps, BOB, second.id)
    card = await accounts.get_card(deps, ALICE, acc)
    assert card.summary.user_id == ALICE.id and card.pending_offer is None
    third = await offers.create_offer(deps, ALICE, acc, Method.ASSIGN)
    clock.advance(299)
    await offers.receive(deps, BOB, third.id)
    assert (await accounts.get_card(deps, ALICE, acc)).summary.user_id == BOB.id


async def test_r4_assign_makes_a_user_owner_keeps_and_pays(deps: Dependencies) -> None:
    await billing.set_subscription(deps, ALICE, "office", 2)
    acc = await accounts.create_account(deps, ALICE, sip("1"))
    await accounts.create_account(deps, ALICE, sip("2"))
    await _assign(deps, acc)
    card = await accounts.get_card(deps, ALICE, acc)
    assert (card.summary.owner_id, card.summary.user_id) == (ALICE.id, BOB.id)
    assert card.summary.payer is Payer.OWNER_PLAN
    assert acc in [a.id for a in (await accounts.softphone(deps, ALICE)).owned]
    await accounts.update_settings(deps, ALICE, acc, login="1b")  # still editable by the owner
    view = await billing.show_subscriptions(deps, ALICE.id)
    assert view.entitlements.seats_used == 2
    with pytest.raises(errors.SeatsExhausted):  # the seats are the owner's
        await accounts.create_account(deps, ALICE, sip("3"))
    # assigning needs the office option
    await billing.set_subscription(deps, DAVE, "softphone", 3)
    own = await accounts.create_account(deps, DAVE, sip("d1"))
    with pytest.raises(errors.MethodNotAllowed):
        await offers.create_offer(deps, DAVE, own, Method.ASSIGN)


async def test_r5_assigned_user_cannot_administer_and_delete_returns(deps: Dependencies) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    await _assign(deps, acc)
    card = await accounts.get_card(deps, BOB, acc)
    assert card.role is Role.USER and card.settings is None
    for attempt in (
        accounts.update_settings(deps, BOB, acc, password=sip().password),
        accounts.set_enabled(deps, BOB, acc, False),
        offers.create_offer(deps, BOB, acc, Method.UNLINK),
        accounts.take_back(deps, BOB, acc),
        links.create_link(deps, BOB, acc),
    ):
        with pytest.raises(errors.AssignedUserLimit):
            await attempt
    assert await accounts.delete_account(deps, BOB, acc) is False
    card = await accounts.get_card(deps, ALICE, acc)
    assert card.summary.user_id == ALICE.id and card.summary.enabled
    with pytest.raises(errors.AccountNotFound):  # strangers learn nothing
        await accounts.get_card(deps, CAROL, acc)


async def test_r6_unlink_moves_the_whole_account_and_its_bill(deps: Dependencies) -> None:
    await billing.set_subscription(deps, ALICE, "office", 5)
    await billing.set_subscription(deps, BOB, "softphone-start", -1)
    acc = await accounts.create_account(deps, ALICE, sip())
    assert (await billing.show_subscriptions(deps, ALICE.id)).entitlements.seats_used == 1
    await _unlink(deps, acc)
    card = await accounts.get_card(deps, BOB, acc)
    assert card.role is Role.OWNER and card.summary.user_id == BOB.id
    assert card.summary.payer is Payer.START
    assert (await accounts.softphone(deps, ALICE)).owned == []
    assert (await billing.show_subscriptions(deps, ALICE.id)).entitlements.seats_used == 0
    with pytest.raises(errors.AccountNotFound):
        await accounts.get_card(deps, ALICE, acc)
    # the new owner may transfer it on, and delete it
    onward = await offers.create_offer(deps, BOB, acc, Method.UNLINK)
    await offers.receive(deps, CAROL, onward.id)
    assert (await accounts.get_card(deps, CAROL, acc)).role is Role.OWNER
    # an operator-paid account stays operator-paid
    acc2 = await accounts.create_account(deps, ALICE, sip("op"))
    await accounts.set_operator_paid(deps, acc2, True)
    await _unlink(deps, acc2)
    assert (await accounts.get_card(deps, BOB, acc2)).summary.payer is Payer.OPERATOR
    assert await accounts.delete_account(deps, BOB, acc2) is True


async def test_r7_transfer_back_with_the_password(deps: Dependencies, clock: FakeClock) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    await _unlink(deps, acc)
    with pytest.raises(errors.WrongPassword):
        await offers.transfer_back(deps, ALICE, acc, "nope")
    assert (await accounts.get_card(deps, BOB, acc)).role is Role.OWNER
    with pytest.raises(errors.AccountNotFound):  # only the one who gave it away may ask
        await offers.transfer_back(deps, CAROL, acc, PASSWORD)
    assert await offers.transfer_back(deps, ALICE, acc, PASSWORD, apply=False) is True
    assert (await accounts.get_card(deps, BOB, acc)).role is Role.OWNER  # a check changes nothing
    await offers.transfer_back(deps, ALICE, acc, PASSWORD)
    assert (await accounts.get_card(deps, ALICE, acc)).role is Role.OWNER
    records = await audit_svc.account_audit(deps, None, acc, limit=100)
    assert PASSWORD not in repr([r.details for r in records])
    assert "transferred_back" in [r.action for r in records]
    # fails when the new owner deleted it
    await _unlink(deps, acc)
    await accounts.delete_account(deps, BOB, acc)
    with pytest.raises(errors.AccountNotFound):
        await offers.transfer_back(deps, ALICE, acc, PASSWORD)


async def test_r7_guessing_is_limited_but_typing_is_not(
    deps: Dependencies, clock: FakeClock
) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    await _unlink(deps, acc)
    for i in range(1, len(PASSWORD)):  # one inline query per keystroke
        with pytest.raises(errors.WrongPassword):
            await offers.transfer_back(deps, ALICE, acc, PASSWORD[:i], apply=False)
    assert await offers.transfer_back(deps, ALICE, acc, PASSWORD, apply=False)
    for guess in ("aaaa", "bbbb", "cccc", "dddd"):
        with pytest.raises(errors.WrongPassword):
            await offers.transfer_back(deps, ALICE, acc, guess, apply=False)
    with pytest.raises(errors.TooManyAttempts):
        await offers.transfer_back(deps, ALICE, acc, "eeee", apply=False)
    with pytest.raises(errors.TooManyAttempts):  # locked: even the right one is refused
        await offers.transfer_back(deps, ALICE, acc, PASSWORD)
    clock.advance(15 * 60)
    await offers.transfer_back(deps, ALICE, acc, PASSWORD)
    assert (await accounts.get_card(deps, ALICE, acc)).role is Role.OWNER


async def test_r8_send_back(deps: Dependencies) -> None:
    rec = Recorder(deps)
    assigned = await accounts.create_account(deps, ALICE, sip("a"))
    await _assign(deps, assigned)
    result = await offers.send_back(deps, BOB, assigned)
    assert result.offer is None and result.to_user_id == ALICE.id
    assert (await accounts.get_card(deps, ALICE, assigned)).summary.user_id == ALICE.id
    assert rec.of(events.AssignmentEnded)

    unlinked = await accounts.create_account(deps, ALICE, sip("u"))
    await _unlink(deps, unlinked)
    result = await offers.send_back(deps, BOB, unlinked)
    assert result.offer is not None and result.to_user_id == ALICE.id
    with pytest.raises(errors.NotRecipient):
        await offers.receive(deps, CAROL, result.offer.id)
    await offers.receive(deps, ALICE, result.offer.id)
    card = await accounts.get_card(deps, ALICE, unlinked)
    assert card.role is Role.OWNER and card.summary.user_id == ALICE.id
    with pytest.raises(errors.InvalidInput):  # Alice received it from nobody
        await offers.send_back(deps, ALICE, unlinked)


async def test_r9_settings_link_single_use_expiring_revocable(
    deps: Dependencies, clock: FakeClock
) -> None:
    link = await links.create_link_from_settings(deps, ALICE, sip("201"))
    assert (await accounts.softphone(deps, ALICE)).owned == []
    listed = await links.list_links(deps, ALICE)
    assert [ln.link.id for ln in listed] == [link.id] and listed[0].account is not None
    with pytest.raises(errors.OwnOffer):
        await links.open_link(deps, ALICE, link.token)
    opened = await links.open_link(deps, BOB, link.token)
    assert opened.account_id == link.account_id
    card = await accounts.get_card(deps, BOB, link.account_id)
    assert card.role is Role.USER and card.settings is None  # R4/R5 apply
    with pytest.raises(errors.LinkUsed):
        await links.open_link(deps, CAROL, link.token)
    with pytest.raises(errors.LinkNotFound):
        await links.open_link(deps, CAROL, "no-such-token")

    acc = await accounts.create_account(deps, ALICE, sip("202"))
    expiring = await links.create_link(deps, ALICE, acc)
    assert acc not in [a.id for a in (await accounts.softphone(deps, ALICE)).owned]
    clock.advance(7 * 86400)
    with pytest.raises(errors.LinkExpired):
        await links.open_link(deps, BOB, expiring.token)
    revoked = await links.create_link(deps, ALICE, acc)
    await links.revoke_link(deps, ALICE, revoked.id)
    with pytest.raises(errors.LinkRevoked):
        await links.open_link(deps, BOB, revoked.token)
    assert (await accounts.get_card(deps, ALICE, acc)).summary.user_id == ALICE.id


async def test_r10_deletion_by_owner_everywhere_by_user_returns(deps: Dependencies) -> None:
    rec = Recorder(deps)
    acc = await accounts.create_account(deps, ALICE, sip())
    await _assign(deps, acc)
    assert await accounts.delete_account(deps, BOB, acc) is False
    assert (await accounts.get_card(deps, ALICE, acc)).summary.user_id == ALICE.id
    await _assign(deps, acc)
    offer = await offers.create_offer(deps, ALICE, acc, Method.UNLINK)
    assert await accounts.delete_account(deps, ALICE, acc) is True
    assert rec.of(events.AccountDeleted)
    async with deps.engine.connect() as conn:
        assert (
            await conn.execute(select(t.accounts).where(t.accounts.c.id == acc))
        ).first() is None
    with pytest.raises(errors.OfferNotFound):
        await offers.receive(deps, CAROL, offer.id)
    assert (await accounts.softphone(deps, BOB)).assigned_to_me == []
    assert next(r.action for r in await audit_svc.account_audit(deps, None, acc)) == "deleted"


async def test_r11_billing_attribution(deps: Dependencies) -> None:
    await billing.set_subscription(deps, CAROL, "free")
    first = await accounts.create_account(deps, CAROL, sip("c1"))
    with pytest.raises(errors.SeatsExhausted) as exc:
        await accounts.create_account(deps, CAROL, sip("c2"))
    assert "seat" in exc.value.message
    await billing.set_subscription(deps, CAROL, "softphone-start", 1, add=True)
    second = await accounts.create_account(deps, CAROL, sip("c2"))
    assert (await accounts.get_card(deps, CAROL, second)).summary.payer is Payer.START
    with pytest.raises(errors.SeatsExhausted):
        await accounts.create_account(deps, CAROL, sip("c3"))
    await accounts.set_operator_paid(deps, first, True)  # frees the seat
    third = await accounts.create_account(deps, CAROL, sip("c3"))
    assert (await accounts.get_card(deps, CAROL, third)).summary.payer is Payer.OWNER_PLAN
    # identical accounts are flagged
    dup = await accounts.create_account(deps, ALICE, sip("c1", domain="PBX.example.com"))
    assert (await accounts.get_card(deps, ALICE, dup)).summary.duplicate
    assert (await accounts.get_card(deps, CAROL, first)).summary.duplicate
    assert not (await accounts.get_card(deps, CAROL, second)).summary.duplicate
    with pytest.raises(errors.UnknownPlan):
        await billing.set_subscription(deps, CAROL, "platinum")


async def test_r11_default_plan_is_a_setting(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    from telesip.services.dependencies import Rules

    from ..conftest import make_services

    deps = await make_services(backend, request, tmp_path, clock, Rules(default_plan="free"))
    try:
        await accounts.create_account(deps, DAVE, sip("d1"))
        with pytest.raises(errors.SeatsExhausted):
            await accounts.create_account(deps, DAVE, sip("d2"))
        view = await billing.show_subscriptions(deps, DAVE.id)
        assert [x.plan for x in view.subscriptions] == ["free"]
    finally:
        await deps.engine.dispose()


async def test_r12_invariants_under_concurrency_and_failure(deps: Dependencies) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    offer = await offers.create_offer(deps, ALICE, acc, Method.UNLINK)
    people = [BOB, CAROL, DAVE]
    results = await asyncio.gather(
        *(offers.receive(deps, p, offer.id) for p in people), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, errors.OfferAlreadyReceived) for r in results if r not in winners)
    winner = winners[0].recipient_id  # type: ignore[union-attr]
    card = await accounts.get_card(deps, None, acc)
    assert card.summary.owner_id == winner == card.summary.user_id

    # a failure half-way changes nothing: the recipient has no seat for an unlinked account
    await billing.set_subscription(deps, ALICE, "free", 0)
    acc2 = await accounts.create_account(deps, BOB, sip("b2"))
    offer2 = await offers.create_offer(deps, BOB, acc2, Method.UNLINK)
    with pytest.raises(errors.SeatsExhausted):
        await offers.receive(deps, ALICE, offer2.id)
    after = await offers.get_offer(deps, offer2.id)
    assert after.state is OfferState.PENDING
    assert (await accounts.get_card(deps, None, acc2)).summary.owner_id == BOB.id
    assert RegState.UNKNOWN.value == (await accounts.get_card(deps, None, acc2)).summary.reg_state


async def test_r3_an_offer_is_received_from_its_deep_link_too(deps: Dependencies) -> None:
    acc = await accounts.create_account(deps, ALICE, sip())
    offer = await offers.create_offer(deps, ALICE, acc, Method.ASSIGN)
    assert offer.token and offer.token not in repr(offer)
    with pytest.raises(errors.OwnOffer):
        await offers.receive_by_token(deps, ALICE, offer.token)
    got = await offers.receive_by_token(deps, BOB, offer.token)
    assert got.recipient_id == BOB.id
    with pytest.raises(errors.OfferAlreadyReceived):
        await offers.receive_by_token(deps, CAROL, offer.token)
    with pytest.raises(errors.OfferNotFound):
        await offers.receive_by_token(deps, CAROL, "forged-token")
