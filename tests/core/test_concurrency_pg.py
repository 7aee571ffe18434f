"""Real concurrency on PostgreSQL: many clients, each with its own connection pool (as separate
processes would have), press Receive on the same offer at the same moment."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import Method, TelegramUser
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.store.db import create_engine

from .helpers import ALICE, sip

CLIENTS = [TelegramUser(3000 + i, f"C{i}") for i in range(20)]


def _client(base: Dependencies, clock: FakeClock) -> Dependencies:
    engine = create_engine(
        base.engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0
    )
    return Dependencies(engine, base.cipher, clock, base.rules)


async def _gather_receives(clients: list[Dependencies], offer_id: int) -> list[object]:
    start = asyncio.Event()

    async def press(deps: Dependencies, who: TelegramUser) -> object:
        async with deps.engine.connect():  # connection ready before the starting gun
            pass
        await start.wait()
        try:
            return await offers.receive(deps, who, offer_id)
        except errors.TelesipError as exc:
            return exc

    tasks = [asyncio.create_task(press(s, who)) for s, who in zip(clients, CLIENTS, strict=True)]
    await asyncio.sleep(0)  # let every task reach the gun
    start.set()
    return await asyncio.gather(*tasks)


async def test_twenty_clients_press_receive_exactly_one_wins(pg: Dependencies) -> None:
    acc = await accounts.create_account(pg, ALICE, sip())
    offer = await offers.create_offer(pg, ALICE, acc, Method.UNLINK)
    clients = [_client(pg, pg.clock) for _ in CLIENTS]  # type: ignore[arg-type]
    try:
        results = await _gather_receives(clients, offer.id)
    finally:
        for c in clients:
            await c.engine.dispose()
    winners = [r for r in results if isinstance(r, offers.Received)]
    losers = [r for r in results if not isinstance(r, offers.Received)]
    assert len(winners) == 1
    assert all(isinstance(r, errors.OfferAlreadyReceived) for r in losers), losers
    card = await accounts.get_card(pg, None, acc)
    assert card.summary.owner_id == winners[0].recipient_id == card.summary.user_id
    async with pg.engine.connect() as conn:
        audit_rows = await conn.scalar(
            select(func.count()).where(t.audit.c.account_id == acc, t.audit.c.action == "received")
        )
    assert audit_rows == 1


async def test_receive_in_the_instant_of_expiry_takes_effect_at_most_once(pg: Dependencies) -> None:
    for _ in range(5):
        acc = await accounts.create_account(pg, ALICE, sip())
        offer = await offers.create_offer(pg, ALICE, acc, Method.ASSIGN)
        before = FakeClock(offer.expires_at - timedelta(microseconds=1))
        at = FakeClock(offer.expires_at)
        clients = [_client(pg, before if i % 2 else at) for i in range(len(CLIENTS))]
        try:
            results = await _gather_receives(clients, offer.id)
        finally:
            for c in clients:
                await c.engine.dispose()
        winners = [r for r in results if isinstance(r, offers.Received)]
        assert len(winners) <= 1
        for i, r in enumerate(results):
            if isinstance(r, offers.Received):
                assert i % 2 == 1, "an offer took effect at its expiry instant"
            else:
                assert isinstance(r, errors.OfferAlreadyReceived | errors.OfferExpired), r
        card = await accounts.get_card(pg, None, acc)
        expected_user = winners[0].recipient_id if winners else ALICE.id
        assert card.summary.user_id == expected_user


async def test_racing_creations_of_one_line_store_one_enabled_copy(pg: Dependencies) -> None:
    """R11 under concurrency: twenty people connect the same line at the same moment, each
    through their own connection pool; the database keeps exactly one copy enabled (the
    first committed) and every other copy is stored disabled, saying why."""
    clients = [_client(pg, pg.clock) for _ in CLIENTS]  # type: ignore[arg-type]
    start = asyncio.Event()

    async def create(deps: Dependencies, who: TelegramUser) -> int:
        async with deps.engine.connect():
            pass
        await start.wait()
        return await accounts.create_account(deps, who, sip("7001", domain="race.example.com"))

    try:
        tasks = [asyncio.create_task(create(c, w)) for c, w in zip(clients, CLIENTS, strict=True)]
        await asyncio.sleep(0)
        start.set()
        ids = await asyncio.gather(*tasks)
    finally:
        for c in clients:
            await c.engine.dispose()
    cards = [await accounts.get_card(pg, None, i) for i in ids]
    enabled = [c for c in cards if c.summary.enabled]
    assert len(enabled) == 1, [c.summary.id for c in enabled]
    for c in cards:
        if not c.summary.enabled:
            assert c.summary.reg_error is not None and "already connected" in c.summary.reg_error
    async with pg.engine.connect() as conn:
        rows = await conn.execute(
            select(t.audit.c.account_id, t.audit.c.details).where(t.audit.c.action == "created")
        )
        flagged = {r.account_id for r in rows if r.details.get("disabled") == "identical"}
    assert flagged == {c.summary.id for c in cards if not c.summary.enabled}


async def test_racing_enables_of_two_copies_enable_one(pg: Dependencies) -> None:
    """Two owners enable their disabled copies of one line at the same moment: one wins,
    the other is told the line is connected (the database refuses the second)."""
    for _ in range(5):
        a = await accounts.create_account(pg, ALICE, sip("7002", domain="race.example.com"))
        b = await accounts.create_account(pg, CLIENTS[0], sip("7002", domain="race.example.com"))
        await accounts.set_enabled(pg, ALICE, a, False)
        clients = [_client(pg, pg.clock) for _ in range(2)]  # type: ignore[arg-type]
        start = asyncio.Event()

        async def enable(
            deps: Dependencies, who: TelegramUser, i: int, start: asyncio.Event = start
        ) -> object:
            async with deps.engine.connect():
                pass
            await start.wait()
            try:
                return await accounts.set_enabled(deps, who, i, True)
            except errors.TelesipError as exc:
                return exc

        await accounts.set_enabled(pg, CLIENTS[0], b, False)
        try:
            tasks = [
                asyncio.create_task(enable(clients[0], ALICE, a)),
                asyncio.create_task(enable(clients[1], CLIENTS[0], b)),
            ]
            await asyncio.sleep(0)
            start.set()
            results = await asyncio.gather(*tasks)
        finally:
            for c in clients:
                await c.engine.dispose()
        assert sum(r is None for r in results) == 1, results
        assert [type(r) for r in results if r is not None] == [errors.LineConnected]
        states = [(await accounts.get_card(pg, None, i)).summary.enabled for i in (a, b)]
        assert sorted(states) == [False, True]
        for i in (a, b):
            await accounts.delete_account(pg, None, i)
