"""R11, identical accounts: a line (same login at the same server) registers once. The first
enabled copy registers it; a newer copy is stored disabled with a message that names the
line and not the other copy's owner; enabling or re-pointing a copy onto a connected line is
refused; and the workers never claim two enabled copies of a line (a race's backstop)."""

from __future__ import annotations

import pytest

from telesip.domain import errors
from telesip.domain.model import RegState
from telesip.services import accounts, billing, fleet, leases
from telesip.services.dependencies import Dependencies

from .helpers import ALICE, BOB, sip, two_enabled_copies


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
