"""/softphone reads its two lists in one statement, through the database driver itself where it
can (``store/fast_reads.py``: PostgreSQL's asyncpg, SQLite's reader on the loop's thread), and
must show exactly what the two processed listings show: the accounts a person owns (not
link-managed) and those assigned to them, in id order, with the same values and types."""

from __future__ import annotations

from typing import Any

import pytest

from telesip.domain.model import Method
from telesip.domain.readmodels import AccountSummary
from telesip.services import accounts, links, offers
from telesip.services.dependencies import Dependencies
from telesip.store import fast_reads

from .helpers import ALICE, BOB, CAROL, DAVE, sip


async def _not_through_the_driver(*args: Any) -> None:
    return None


async def _processed(deps: Dependencies, user_id: int) -> tuple[list[Any], list[Any]]:
    """The two lists through SQLAlchemy's result processing (the driver's way turned off)."""
    with pytest.MonkeyPatch.context() as m:
        m.setattr(fast_reads, "fetch", _not_through_the_driver)
        async with deps.uow(readonly=True) as uow:
            owned = await uow.accounts.owned_by(user_id, via_link=False)
            assigned = await uow.accounts.assigned_to(user_id)
    return owned, assigned


async def _owned(deps: Dependencies, user_id: int, via_link: bool | None) -> list[Any]:
    async with deps.uow(readonly=True) as uow:
        return await uow.accounts.owned_by(user_id, via_link=via_link)


def _typed(summary: AccountSummary) -> list[tuple[str, Any, type]]:
    return [(name, value, type(value)) for name, value in summary._asdict().items()]


async def test_softphone_matches_the_processed_listings(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = await accounts.create_account(deps, ALICE, sip("100"))
    second = await accounts.create_account(deps, ALICE, sip("101", port=5070))
    off = await accounts.create_account(deps, ALICE, sip("102"))
    await accounts.set_enabled(deps, ALICE, off, False)
    await accounts.create_account(deps, CAROL, sip("100"))  # the same identity: a duplicate
    given = await accounts.create_account(deps, ALICE, sip("103"))
    offer = await offers.create_offer(deps, ALICE, given, Method.ASSIGN)
    await offers.receive(deps, BOB, offer.id)  # BOB uses it, ALICE still owns it
    linked = await accounts.create_account(deps, ALICE, sip("104"))
    link = await links.create_link(deps, ALICE, linked)
    await links.open_link(deps, DAVE, link.token)  # link-managed: not on ALICE's /softphone
    moved = await accounts.create_account(deps, CAROL, sip("105"))
    offer = await offers.create_offer(deps, CAROL, moved, Method.UNLINK)
    await offers.receive(deps, ALICE, offer.id)  # ALICE owns it now

    fast: list[bool] = []
    fetch = fast_reads.fetch

    async def spy(*args: Any) -> Any:
        rows = await fetch(*args)
        fast.append(rows is not None)
        return rows

    monkeypatch.setattr(fast_reads, "fetch", spy)
    for person in (ALICE, BOB, CAROL, DAVE):
        view = await accounts.softphone(deps, person)
        owned, assigned = await _processed(deps, person.id)
        assert [_typed(s) for s in view.owned] == [_typed(s) for s in owned]
        assert [_typed(s) for s in view.assigned_to_me] == [_typed(s) for s in assigned]
    assert fast == [True] * 4  # every listing was read through the driver
    for person in (ALICE, BOB, CAROL, DAVE):  # owned_by (the links section's) the same way
        for via_link in (True, False, None):
            fast.clear()
            read = await _owned(deps, person.id, via_link)
            assert fast == [True]
            with monkeypatch.context() as m:
                m.setattr(fast_reads, "fetch", _not_through_the_driver)
                processed = await _owned(deps, person.id, via_link)
            assert [_typed(s) for s in read] == [_typed(s) for s in processed]
    assert [s.id for s in await _owned(deps, ALICE.id, True)] == [linked]

    view = await accounts.softphone(deps, ALICE)
    assert [s.id for s in view.owned] == sorted([plain, second, off, given, moved])
    assert {s.id: (s.enabled, s.duplicate) for s in view.owned}[off] == (False, False)
    assert {s.id: s.duplicate for s in view.owned}[plain] is True
    assert [s.id for s in (await accounts.softphone(deps, BOB)).assigned_to_me] == [given]
