"""Read-only units of work on a SQLite file run on the loop's thread (store/db.py,
``sqlite_reader``): they see what was committed, cannot write, never make the loop wait for a
connection, and go on through aiosqlite when the file is busy."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import OperationalError

from telesip.domain.errors import StorageUnavailable
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from telesip.store import fast_reads, migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine, sqlite_reader
from telesip.store.uow import LoopReads

from .helpers import ALICE, sip


@pytest.fixture
async def lite(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'telesip.db'}")
    await migrate.upgrade(engine)
    yield Dependencies(engine, Cipher("test-key"))
    await engine.dispose()


async def _not_through_the_driver(*args: Any) -> None:
    return None


@pytest.fixture
def processed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The card read through SQLAlchemy on the reader engine (these tests are about its
    connection), not through the driver (``fast_reads``: tests/core/test_card_fast_read.py)."""
    monkeypatch.setattr(fast_reads, "fetch_processed", _not_through_the_driver)


async def test_reads_run_on_the_loop_thread_and_see_commits(
    lite: Dependencies, processed: None
) -> None:
    threads: set[int] = set()
    reader = sqlite_reader(lite.engine)
    assert reader is not None

    def seen(*_: Any) -> None:
        threads.add(threading.get_ident())

    event.listen(reader, "before_cursor_execute", seen)
    acc = await accounts.create_account(lite, ALICE, sip())
    card = await accounts.get_card(lite, ALICE, acc)
    assert card.summary.id == acc
    assert threads == {threading.get_ident()}
    await accounts.set_enabled(lite, ALICE, acc, False)
    assert not (await accounts.get_card(lite, ALICE, acc)).summary.enabled


async def test_a_committed_read_ends_its_snapshot(lite: Dependencies, processed: None) -> None:
    acc = await accounts.create_account(lite, ALICE, sip())
    async with lite.uow(readonly=True) as uow:
        assert await uow.accounts.card(acc, uow.now) is not None
        assert uow.conn.in_transaction()
        await uow.commit()
        assert not uow.conn.in_transaction()


async def test_a_read_only_unit_of_work_cannot_write(lite: Dependencies) -> None:
    with pytest.raises(StorageUnavailable):
        async with lite.uow(readonly=True) as uow:
            assert isinstance(uow.conn, LoopReads)
            await uow.conn.execute(text("DELETE FROM accounts"))


async def test_more_readers_than_the_pool_holds_never_block_the_loop(
    lite: Dependencies, processed: None
) -> None:
    acc = await accounts.create_account(lite, ALICE, sip())
    inside = 0
    all_inside = asyncio.Event()
    readers = 40  # the reader pool keeps 8; a blocking checkout would freeze the loop here

    async def read() -> None:
        nonlocal inside
        async with lite.uow(readonly=True) as uow:
            assert await uow.accounts.card(acc, uow.now) is not None
            inside += 1
            if inside == readers:
                all_inside.set()
            await all_inside.wait()  # every reader holds its connection across an await

    async with asyncio.timeout(10):
        await asyncio.gather(*(read() for _ in range(readers)))


async def test_many_short_reads_at_once_reuse_the_pooled_connections(lite: Dependencies) -> None:
    """A read that never left the loop's thread gives its connection back without an await,
    so 64 cards read at once (a burst of presses) open no connection past the pool's: a new
    SQLite connection reads the schema again and prepares every statement anew."""
    acc = await accounts.create_account(lite, ALICE, sip())
    reader = sqlite_reader(lite.engine)
    assert reader is not None
    opened: list[object] = []
    event.listen(reader, "connect", lambda dbapi, _record: opened.append(dbapi))
    await accounts.get_card(lite, ALICE, acc)
    before = len(opened)
    await asyncio.gather(*(accounts.get_card(lite, ALICE, acc) for _ in range(64)))
    assert len(opened) - before == 0
    # only the connection the reader keeps for statements read through the driver is out
    assert reader.pool.checkedout() == 1  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as m:  # the same through SQLAlchemy
        m.setattr(fast_reads, "fetch_processed", _not_through_the_driver)
        await asyncio.gather(*(accounts.get_card(lite, ALICE, acc) for _ in range(64)))
    assert len(opened) - before <= 1  # the pool had given one out for good
    assert reader.pool.checkedout() == 1  # type: ignore[attr-defined]


async def test_a_busy_file_sends_the_read_through_aiosqlite(
    lite: Dependencies, processed: None
) -> None:
    acc = await accounts.create_account(lite, ALICE, sip())
    tried: list[Connection] = []

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    async with lite.uow(readonly=True) as uow:
        conn = uow.conn
        assert isinstance(conn, LoopReads)
        await conn.execute(text("SELECT 1"))  # its connection checked out
        assert conn._sync is not None
        tried.append(conn._sync)
        conn._sync.execute = busy  # type: ignore[method-assign]
        assert await uow.accounts.card(acc, uow.now) is not None
        assert conn._sync is None and conn._async is not None
    assert tried[0].closed


async def test_in_memory_sqlite_has_no_reader() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    assert sqlite_reader(engine) is None
    await engine.dispose()


async def test_the_card_is_prepared_once_not_on_every_read(lite: Dependencies) -> None:
    """SQLite prepares a statement again on every execution when a bound value might decide
    whether a partial index applies (``offers.state = ?`` against ``uq_offers_pending_account``
    ``WHERE state = 'pending'``): the card's read cost 0.13 ms instead of 0.015 ms. Preparing
    asks the authorizer about every table and column; reading a prepared statement asks
    nothing."""
    acc = await accounts.create_account(lite, ALICE, sip())
    asked: list[tuple[Any, ...]] = []

    def authorizer(*args: Any) -> int:
        asked.append(args)
        return 0  # SQLITE_OK

    async with lite.uow(readonly=True) as uow:
        assert isinstance(uow.conn, LoopReads)
        driver = uow.conn.driver_connection()
        assert driver is not None
        driver.set_authorizer(authorizer)
        try:
            assert await uow.accounts.card(acc, uow.now) is not None
            assert asked  # prepared (the authorizer is asked)
            asked.clear()
            for _ in range(3):
                assert await uow.accounts.card(acc, uow.now) is not None
        finally:
            driver.set_authorizer(None)
    assert asked == []


async def test_a_busy_file_sends_the_read_through_the_driver_the_usual_way(
    lite: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The card read through the driver (``fast_reads.fetch_processed``) meets a busy file:
    the same unit of work reads it the usual way."""
    acc = await accounts.create_account(lite, ALICE, sip())

    class Busy:
        def execute(self, *args: Any) -> Any:
            raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(LoopReads, "driver_connection", lambda self: Busy())
    card = await accounts.get_card(lite, ALICE, acc)
    assert card.summary.id == acc and card.summary.login == "100"
