"""The two writers of ``uow.transfers`` on PostgreSQL: the fast steps (``PgTransfers``, with
``store/pg_statements.py``'s statements) against the Core steps they inherit and stand in for.

The same script of transfers, right and wrong, runs twice on PostgreSQL: with the fast
statements and with them switched off (every step then the Core one). Every outcome (result or
error type), every event, the audit log and the rows must come out the same. Then: the happy
cycle really runs on the fast statements, and races that they settle differently (a
concurrent offer, concurrent transfers back) end as the rules say.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import Method
from telesip.domain.settings import Secret
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.store.db import create_engine
from telesip.store.pg_statements import PgStatements
from telesip.store.repositories.accounts import Accounts
from telesip.store.repositories.offers import Offers
from telesip.store.repositories.transfers_pg import PgTransfers
from telesip.store.uow import UnitOfWork

from . import transfers
from .helpers import ALICE, BOB, PASSWORD, sip


def _no_hot(monkeypatch: pytest.MonkeyPatch) -> None:
    """No fast statements: ``PgTransfers`` runs the Core steps it inherits."""

    async def none(self: UnitOfWork) -> None:
        return None

    monkeypatch.setattr(UnitOfWork, "pg_statements", none)


async def test_postgresql_binds_the_fast_writer_and_can_switch_it_off(
    pg: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pg.uow() as uow:
        assert isinstance(uow.transfers, PgTransfers)
        assert await uow.transfers.statements() is not None
    _no_hot(monkeypatch)
    async with pg.uow() as uow:
        assert isinstance(uow.transfers, PgTransfers)
        assert await uow.transfers.statements() is None


async def test_hot_path_and_core_path_give_the_same_outcomes(
    pg: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = []
    names = ", ".join(tb.name for tb in t.metadata.sorted_tables)
    for hot in (True, False):
        with monkeypatch.context() as m:
            if not hot:
                _no_hot(m)
            async with pg.engine.begin() as conn:
                await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            clock = FakeClock()
            deps = Dependencies(pg.engine, pg.cipher, clock, pg.rules)
            runs.append(await transfers.run(deps, clock))
    transfers.assert_same(*runs)


async def test_the_plain_cycle_runs_on_the_hot_path(
    pg: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    acc = await accounts.create_account(pg, ALICE, sip())

    def core_path(*_: object, **__: object) -> None:
        raise AssertionError("the Core path ran")

    for cls, name in ((Accounts, "get"), (Accounts, "of_offer"), (Offers, "add")):
        monkeypatch.setattr(cls, name, core_path)
    one_statement: list[object] = []
    receive_unlink = PgStatements.receive_unlink

    async def spy(self: PgStatements, *args: Any) -> Any:
        one_statement.append(done := await receive_unlink(self, *args))
        return done

    monkeypatch.setattr(PgStatements, "receive_unlink", spy)
    PgStatements.forget_subscriptions()  # earlier tests used the same people
    for method in (Method.UNLINK, Method.UNLINK, Method.UNLINK, Method.ASSIGN):
        offer = await offers.create_offer(pg, ALICE, acc, method)
        received = await offers.receive(pg, transfers.ERIN, offer.id)
        assert received.recipient_id == transfers.ERIN.id
        if method is Method.UNLINK:
            assert await offers.transfer_back(pg, ALICE, acc, PASSWORD)
    # Erin was new, then known and her plan read: her third unlink took one statement (the
    # assignment tried and went the two-statement way)
    assert [done is not None for done in one_statement] == [True, False]


def _client(base: Dependencies) -> Dependencies:
    engine = create_engine(
        base.engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=0
    )
    return Dependencies(engine, base.cipher, base.clock, base.rules)


async def test_concurrent_offers_leave_one_pending_and_each_is_audited(pg: Dependencies) -> None:
    acc = await accounts.create_account(pg, ALICE, sip())
    clients = [_client(pg) for _ in range(8)]
    try:
        for _ in range(5):
            made = await asyncio.gather(
                *(offers.create_offer(c, ALICE, acc, Method.UNLINK) for c in clients)
            )
            assert len({o.id for o in made}) == len(clients)
    finally:
        for c in clients:
            await c.engine.dispose()
    async with pg.engine.connect() as conn:
        states = (await conn.execute(select(t.offers.c.state))).scalars().all()
        audited = (
            await conn.execute(select(t.audit.c.action).where(t.audit.c.action == "offer_created"))
        ).all()
    assert states.count("pending") == 1
    assert len(states) == len(audited) == 5 * len(clients)


async def test_taking_back_while_the_new_owner_offers_it_leaves_no_stray_offer(
    pg: Dependencies,
) -> None:
    """Whichever comes first, no pending offer survives from someone who no longer owns it."""
    acc = await accounts.create_account(pg, ALICE, sip())
    alice, bob = _client(pg), _client(pg)
    try:
        for _ in range(10):
            offer = await offers.create_offer(pg, ALICE, acc, Method.UNLINK)
            await offers.receive(pg, BOB, offer.id)
            results = await asyncio.gather(
                offers.transfer_back(alice, ALICE, acc, PASSWORD),
                offers.create_offer(bob, BOB, acc, Method.UNLINK),
                return_exceptions=True,
            )
            assert results[0] is True, results
            async with pg.engine.connect() as conn:
                owner = await conn.scalar(
                    select(t.accounts.c.owner_id).where(t.accounts.c.id == acc)
                )
                senders = (
                    (
                        await conn.execute(
                            select(t.offers.c.sender_id).where(
                                t.offers.c.account_id == acc, t.offers.c.state == "pending"
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
            assert owner == ALICE.id
            assert all(sender == owner for sender in senders), senders
    finally:
        await alice.engine.dispose()
        await bob.engine.dispose()


async def _lock_out_while_blocked(
    pg: Dependencies, acc: int, write: Any, view: Any, *args: Any
) -> Any:
    """Run the transfer back's write while another transaction holds the account's lock, and
    let that one lock the pair (Alice, account) out by wrong guesses and commit once the write
    waits for the lock: after the write's statement began, before it holds the lock."""
    until = pg.clock.now() + timedelta(minutes=10)
    async with pg.engine.connect() as holder, pg.engine.connect() as watcher:
        await holder.execute(
            text("SELECT 1 FROM accounts WHERE id = :a FOR NO KEY UPDATE"), {"a": acc}
        )
        pending = asyncio.ensure_future(write(view, *args))
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        waits = 0
        for _ in range(2000):  # until the write waits for the lock (it is a statement by then)
            waits = await watcher.scalar(waiting)
            await watcher.rollback()  # the next read sees the activity anew (not this snapshot)
            if waits or pending.done():
                break
            await asyncio.sleep(0.005)
        assert waits == 1 and not pending.done()
        await holder.execute(
            t.guesses.insert().values(
                user_id=ALICE.id,
                account_id=acc,
                window_start=pg.clock.now(),
                failures=5,
                free_steps=0,
                locked_until=until,
            )
        )
        await holder.commit()
        return await pending


async def test_a_lock_out_committed_while_the_write_waits_for_the_lock_stops_it(
    pg: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write reads the guesses after it holds the account's lock (the function's own
    snapshot), so a lock-out committed by the lock's previous holder is seen: the write does
    nothing and the Core step says the pair is locked out."""
    acc = await accounts.create_account(pg, ALICE, sip())
    offer = await offers.create_offer(pg, ALICE, acc, Method.UNLINK)
    await offers.receive(pg, BOB, offer.id)
    write = PgStatements.transfer_back_write
    results: list[bool] = []

    async def blocked(self: PgStatements, view: Any, *args: Any) -> bool:
        results.append(await _lock_out_while_blocked(pg, acc, write.__get__(self), view, *args))
        return results[-1]

    monkeypatch.setattr(PgStatements, "transfer_back_write", blocked)
    with pytest.raises(errors.TooManyAttempts):
        await offers.transfer_back(pg, ALICE, acc, PASSWORD)
    assert results == [False]
    async with pg.engine.connect() as conn:
        owner = await conn.scalar(select(t.accounts.c.owner_id).where(t.accounts.c.id == acc))
        guesses = await conn.scalar(select(func.count()).select_from(t.guesses))
        back = await conn.scalar(select(func.count()).where(t.audit.c.action == "transferred_back"))
    assert (owner, guesses, back) == (BOB.id, 1, 0)


async def test_a_password_changed_between_the_read_and_the_write_is_the_core_steps(
    pg: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write moves the account only if it is still as read, its password included."""
    acc = await accounts.create_account(pg, ALICE, sip())
    offer = await offers.create_offer(pg, ALICE, acc, Method.UNLINK)
    await offers.receive(pg, BOB, offer.id)
    write = PgStatements.transfer_back_write
    results: list[bool] = []

    async def changed(self: PgStatements, view: Any, *args: Any) -> bool:
        async with pg.engine.begin() as conn:
            await conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == acc)
                .values(password_enc=pg.cipher.encrypt(Secret("an0ther-Pa55")))
            )
        results.append(await write(self, view, *args))
        return results[-1]

    monkeypatch.setattr(PgStatements, "transfer_back_write", changed)
    with pytest.raises(errors.WrongPassword):
        await offers.transfer_back(pg, ALICE, acc, PASSWORD)
    assert results == [False]
    async with pg.engine.connect() as conn:
        owner = await conn.scalar(select(t.accounts.c.owner_id).where(t.accounts.c.id == acc))
    assert owner == BOB.id
