"""The account card is read through the database driver where it can be
(``store/fast_reads.fetch_processed``: SQLite's reader on the loop's thread, PostgreSQL's
asyncpg), with each value converted as SQLAlchemy converts it. For the same accounts it must
give exactly what SQLAlchemy's processed rows give: the same summary, pending offer, firewall
list, recording flag and decrypted account (values and types), and so the same card text and
buttons in the bot, for the owner and for the assigned user."""

from __future__ import annotations

from dataclasses import astuple
from typing import Any

import pytest
from sqlalchemy import insert

from telesip.bot import views
from telesip.domain.model import Method
from telesip.domain.readmodels import CardRead
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import fast_reads, tables

from .helpers import ALICE, BOB, CAROL, sip


async def _not_through_the_driver(*args: Any) -> None:
    return None


def _typed(values: Any) -> list[tuple[Any, type]]:
    return [(value, type(value)) for value in values]


def _same(fast: CardRead, processed: CardRead) -> None:
    assert _typed(fast.summary) == _typed(processed.summary)
    assert fast.pending == processed.pending
    if fast.pending is not None and processed.pending is not None:
        assert _typed(astuple(fast.pending)) == _typed(astuple(processed.pending))
        assert fast.pending.created_at.tzinfo is not None
    assert fast.firewall == processed.firewall
    assert _typed([fast.recording]) == _typed([processed.recording])
    account, expected = fast.account(), processed.account()
    assert account == expected
    assert _typed(astuple(account.settings)) == _typed(astuple(expected.settings))
    assert account.settings.password.reveal() == expected.settings.password.reveal()
    assert account.created_at == expected.created_at and account.created_at.tzinfo is not None


async def _read(deps: Dependencies, account_id: int) -> CardRead | None:
    async with deps.uow(readonly=True) as uow:
        return await uow.accounts.card(account_id, uow.now)


async def _workers(deps: Dependencies, pinned_to: int) -> None:
    """Two live shared workers (candidates for any unpinned account) and a pinned one whose
    live instance holds ``pinned_to``'s lease."""
    now = deps.clock.now()
    w = tables.workers
    rows = [
        ("w-a", None, ["udp:203.0.113.7:5060", "rtp:203.0.113.7:20000-20999"], "i-a"),
        ("w-b", None, ["udp:198.51.100.2:5060"], None),
        ("w-pin", "office", ["udp:192.0.2.9:5070"], "i-pin"),
    ]
    async with deps.engine.begin() as conn:
        ids = []
        for name, pool, addresses, instance in rows:
            found = await conn.execute(
                insert(w)
                .values(
                    name=name,
                    pool=pool,
                    shared=pool is None,
                    instance=instance,
                    last_seen=now,
                    addresses=addresses,
                    stats={},
                    created_at=now,
                )
                .returning(w.c.id)
            )
            ids.append(found.scalar_one())
        await conn.execute(
            insert(tables.leases).values(
                account_id=pinned_to, worker_id=ids[2], instance="i-pin", acquired_at=now
            )
        )


async def test_the_card_through_the_driver_is_the_processed_card(
    deps: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = await accounts.create_account(deps, ALICE, sip("100", display_name="Desk"))
    given = await accounts.create_account(
        deps, ALICE, sip("101", port=5070, transport="tcp", rewrite_rules=(("^0", "+49"),))
    )
    offer = await offers.create_offer(deps, ALICE, given, Method.ASSIGN)
    await offers.receive(deps, BOB, offer.id)  # BOB uses it
    await offers.create_offer(deps, ALICE, given, Method.UNLINK)  # and a pending offer
    off = await accounts.create_account(deps, ALICE, sip("102", record=True))
    await accounts.set_enabled(deps, ALICE, off, False)
    await accounts.create_account(deps, CAROL, sip("102"))  # the same line: a duplicate
    pinned = await accounts.create_account(deps, ALICE, sip("103", worker="office"))
    await _workers(deps, pinned)

    fast: list[bool] = []
    fetch = fast_reads.fetch_processed

    async def spy(*args: Any) -> Any:
        rows = await fetch(*args)
        fast.append(rows is not None)
        return rows

    monkeypatch.setattr(fast_reads, "fetch_processed", spy)
    reads: dict[int, CardRead] = {}
    for account_id in (plain, given, off, pinned):
        read = await _read(deps, account_id)
        with monkeypatch.context() as m:
            m.setattr(fast_reads, "fetch_processed", _not_through_the_driver)
            processed = await _read(deps, account_id)
        assert read is not None and processed is not None
        _same(read, processed)
        reads[account_id] = read
    assert fast == [True] * 4  # each card was read through the driver
    assert await _read(deps, 999_999) is None
    # what the reads cover: a pending offer, a duplicate, workers that may hold an unpinned
    # account and the live holder of a pinned one
    assert reads[given].pending is not None and reads[given].summary.user_id == BOB.id
    assert reads[off].summary.duplicate and reads[off].recording
    assert any("203.0.113.7" in x for x in reads[plain].firewall)
    assert any("198.51.100.2" in x for x in reads[plain].firewall)
    assert reads[pinned].firewall == ["udp:192.0.2.9:5070"]

    for person, account_id in [(ALICE, a) for a in (plain, given, off, pinned)] + [(BOB, given)]:
        card = await accounts.get_card(deps, person, account_id, settings=False)
        with monkeypatch.context() as m:
            m.setattr(fast_reads, "fetch_processed", _not_through_the_driver)
            processed = await accounts.get_card(deps, person, account_id, settings=False)
        assert card == processed
        for lang in ("en", "ru"):
            text, kb = views.card(lang, card)
            expected_text, expected_kb = views.card(lang, processed)
            assert text == expected_text
            assert kb.model_dump() == expected_kb.model_dump()
