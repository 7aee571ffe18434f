"""R11, unused accounts on a fake clock: an enabled account with no call and no registration
change for ``rules.unused_days`` days (nor created in them) is listed for its owner, and
``disable_unused`` (TELESIP_DISABLE_UNUSED) disables each once, telling its owner."""

from __future__ import annotations

import dataclasses

from sqlalchemy import insert

from telesip.bot.notifier import Notice, notices_for
from telesip.domain import events
from telesip.domain.clock import FakeClock
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

from .helpers import ALICE, BOB, Recorder, sip

DAY = 86400.0


async def _call(deps: Dependencies, account_id: int) -> None:
    async with deps.uow() as uow:
        await uow.conn.execute(
            insert(t.calls).values(
                account_id=account_id,
                owner_id=ALICE.id,
                user_id=ALICE.id,
                direction="in",
                number="100",
                line="x",
                state="ended",
                created_at=uow.now,
            )
        )
        await uow.commit()


async def _ids(deps: Dependencies, who=ALICE) -> list[int]:  # type: ignore[no-untyped-def]
    return [a.id for a in await accounts.unused(deps, who)]


async def test_unused_accounts_are_listed_for_their_owner(
    deps: Dependencies, clock: FakeClock
) -> None:
    deps.rules = dataclasses.replace(deps.rules, unused_days=30)
    idle = await accounts.create_account(deps, ALICE, sip("601"))
    registered = await accounts.create_account(deps, ALICE, sip("602"))
    called = await accounts.create_account(deps, ALICE, sip("603"))
    off = await accounts.create_account(deps, ALICE, sip("604"))
    await accounts.create_account(deps, BOB, sip("605"))
    await accounts.set_enabled(deps, ALICE, off, False)
    assert await _ids(deps) == []  # just created: not unused
    clock.advance(10 * DAY)
    await accounts.report_registration(deps, registered, "registered")
    await _call(deps, called)
    clock.advance(25 * DAY)  # 35 days since creation, 25 since the change and the call
    await accounts.report_registration(deps, registered, "registered")  # a refresh: no change
    assert await _ids(deps) == [idle]
    clock.advance(5 * DAY + 1)
    assert await _ids(deps) == [idle, registered, called]  # the disabled one is not listed
    deps.rules = dataclasses.replace(deps.rules, unused_days=60)
    assert await _ids(deps) == []


async def test_disable_unused_disables_each_once_and_tells_the_owner(
    deps: Dependencies, clock: FakeClock
) -> None:
    deps.rules = dataclasses.replace(deps.rules, unused_days=30)
    recorder = Recorder(deps)
    idle = await accounts.create_account(deps, ALICE, sip("701"))
    bobs = await accounts.create_account(deps, BOB, sip("702"))
    clock.advance(20 * DAY)
    busy = await accounts.create_account(deps, ALICE, sip("703"))
    assert await accounts.disable_unused(deps) == []
    clock.advance(11 * DAY)
    assert await accounts.disable_unused(deps, batch=1) == [idle, bobs]  # batches until none
    assert await accounts.disable_unused(deps) == []
    for account_id in (idle, bobs):
        card = await accounts.get_card(deps, None, account_id)
        assert not card.summary.enabled and card.summary.reg_state == "disabled"
    assert (await accounts.get_card(deps, None, busy)).summary.enabled
    disabled = [e for e in recorder.of(events.AccountDisabled) if e.account_id in (idle, bobs)]
    assert len(disabled) == 2
    owners = {n.user_id for e in disabled for n in notices_for(e) if isinstance(n, Notice)}
    assert owners == {ALICE.id, BOB.id}
    assert all(n.key == "n.disabled_unused" for e in disabled for n in notices_for(e))
    assert await _ids(deps) == []  # disabled: no longer listed
