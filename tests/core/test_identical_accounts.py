"""R11, identical accounts: a line (same login at the same server) registers once. The first
enabled copy registers it; a newer copy is stored disabled with a message that names the
line and not the other copy's owner; enabling or re-pointing a copy onto a connected line is
refused; and the workers never claim two enabled copies of a line (a race's backstop)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from telesip.domain import errors
from telesip.domain.model import RegState
from telesip.services import accounts, billing, fleet, leases
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

from .helpers import ALICE, BOB, CAROL, sip, two_enabled_copies


async def test_newer_copy_is_disabled_and_names_no_owner(deps: Dependencies) -> None:
    first = await accounts.create_account(deps, ALICE, sip("201", domain="pbx.example.com"))
    copy = await accounts.create_account(deps, BOB, sip("201", domain="PBX.example.com"))
    card = await accounts.get_card(deps, BOB, copy)
    assert not card.summary.enabled
    assert card.summary.duplicate
    async with deps.uow(readonly=True) as uow:
        stored = await uow.accounts.get(copy)
    assert stored is not None and stored.reg_state is RegState.DISABLED
    assert stored.reg_error is not None and "already connected" in stored.reg_error
    assert "201@" in stored.reg_error
    for leak in (str(ALICE.id), ALICE.first_name or "-", ALICE.username or "-"):
        assert leak not in stored.reg_error
    assert (await accounts.get_card(deps, ALICE, first)).summary.enabled

    with pytest.raises(errors.LineConnected):
        await accounts.set_enabled(deps, BOB, copy, True)
    # the original goes: the copy may take over the line
    await accounts.set_enabled(deps, ALICE, first, False)
    await accounts.set_enabled(deps, BOB, copy, True)
    async with deps.uow(readonly=True) as uow:
        stored = await uow.accounts.get(copy)
    assert stored is not None and stored.enabled and stored.reg_error is None
    with pytest.raises(errors.LineConnected):
        await accounts.set_enabled(deps, ALICE, first, True)


async def test_a_settings_change_onto_a_connected_line_is_refused(deps: Dependencies) -> None:
    await accounts.create_account(deps, ALICE, sip("301"))
    other = await accounts.create_account(deps, ALICE, sip("302"))
    with pytest.raises(errors.LineConnected):
        await accounts.update_settings(deps, ALICE, other, login="301")
    await accounts.set_enabled(deps, ALICE, other, False)
    await accounts.update_settings(deps, ALICE, other, login="301")  # disabled: allowed


async def test_a_copy_keeps_its_seat(deps: Dependencies) -> None:
    """Seats count accounts connected (R11), a disabled copy included, until it is deleted."""
    await billing.set_subscription(deps, ALICE, "office", 2)
    await accounts.create_account(deps, ALICE, sip("401"))
    copy = await accounts.create_account(deps, ALICE, sip("401"))
    with pytest.raises(errors.SeatsExhausted):
        await accounts.create_account(deps, ALICE, sip("402"))
    await accounts.delete_account(deps, ALICE, copy)
    await accounts.create_account(deps, ALICE, sip("402"))


async def test_workers_claim_one_enabled_copy_of_a_line(deps: Dependencies) -> None:
    first = await accounts.create_account(deps, ALICE, sip("501"))
    copy = await accounts.create_account(deps, BOB, sip("501"))
    # two enabled copies (rows from before the database held the rule, acc_0001)
    async with two_enabled_copies(deps, copy):
        ref = await fleet.join(deps, "w1")
        claimed = {a.id for a in (await leases.claim(deps, ref, ttl=30)).claimed}
        assert first in claimed and copy not in claimed
        # the copy held from before (an older copy enabled later): dropped by the worker
        async with deps.uow() as uow:
            await uow.leases.take(ref, [copy], uow.lease_time())
            await uow.commit()
        assert await leases.drop_ineligible(deps, ref, [copy]) == [copy]
        assert await leases.drop_ineligible(deps, ref, [first]) == []


async def test_every_copy_of_a_line_is_flagged_and_a_lone_line_is_not(deps: Dependencies) -> None:
    """The duplicate flag of the listings (and the card) against a count of each line's rows:
    an enabled line with disabled copies, a disabled copy, two disabled copies of a line with
    no enabled one, a lone disabled line and a lone enabled one."""
    ids = [
        await accounts.create_account(deps, ALICE, sip("601")),
        await accounts.create_account(deps, BOB, sip("601")),  # stored disabled
        await accounts.create_account(deps, CAROL, sip("601")),  # stored disabled
        await accounts.create_account(deps, ALICE, sip("602")),
        await accounts.create_account(deps, BOB, sip("602")),  # stored disabled
        await accounts.create_account(deps, ALICE, sip("603")),
        await accounts.create_account(deps, ALICE, sip("604")),
    ]
    await accounts.set_enabled(deps, ALICE, ids[3], False)  # 602: two disabled copies
    await accounts.set_enabled(deps, ALICE, ids[5], False)  # 603: alone, disabled
    async with deps.uow(readonly=True) as uow:
        rows = (await uow.conn.execute(select(t.accounts.c.id, t.accounts.c.identity))).all()
        listed = await uow.accounts.summaries()
    copies = Counter(identity for _, identity in rows)
    expected = {id_: copies[identity] > 1 for id_, identity in rows}
    assert [expected[i] for i in ids] == [True] * 5 + [False, False]
    assert {s.id: s.duplicate for s in listed} == expected
    for person, owned in ((ALICE, ids[0]), (BOB, ids[1]), (ALICE, ids[5])):
        view = await accounts.softphone(deps, person)
        assert {s.id: s.duplicate for s in view.owned} == {s.id: expected[s.id] for s in view.owned}
        assert (await accounts.get_card(deps, person, owned)).summary.duplicate is expected[owned]
