"""PostgreSQL units of work leave their connection, with no transaction open, for the next ones
(``store/parking.py``): a connection parked by one kind is set to the other's isolation level
before it serves it (a write after a read-only unit of work is still one transaction), none is
opened while one waits there, a unit of work that failed gives its connection back to the
pool, a small pool parks nothing, disposing of the engine closes what is parked, and a
connection found broken (a restart) closes the others too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from telesip.domain.errors import StorageUnavailable
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from telesip.store.db import create_engine
from telesip.store.uow import UnitOfWork

from .helpers import ALICE

PID = text("SELECT pg_backend_pid()")


async def _pid(deps: Dependencies, *, readonly: bool = False) -> int:
    async with deps.uow(readonly=readonly) as uow:
        pid = int(await uow.conn.scalar(PID))
        if not readonly:
            await uow.commit()
        return pid


async def _add_alice(uow: UnitOfWork) -> None:
    values = {"id": ALICE.id, "first_name": ALICE.first_name, "created_at": uow.now}
    await uow.conn.execute(insert(t.users).values(values))


async def _alive(deps: Dependencies, pids: list[int]) -> int:
    """How many of ``pids`` the server still lists, seen from a connection of its own."""
    engine = create_engine(deps.engine.url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            stmt = text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:p)")
            return int(await conn.scalar(stmt, {"p": pids}))
    finally:
        await engine.dispose()


async def _until_gone(deps: Dependencies, pids: list[int]) -> int:
    """Wait (5 s at most) for the server to forget ``pids``; how many it still lists."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        left = await _alive(deps, pids)
        if not left or loop.time() > deadline:
            return left
        await asyncio.sleep(0.05)


async def _pids_at_once(deps: Dependencies, n: int, *, readonly: bool = False) -> set[int]:
    """The connections of ``n`` units of work open at the same time."""
    together = asyncio.Barrier(n)

    async def hold() -> int:
        async with deps.uow(readonly=readonly) as uow:
            await together.wait()
            pid = int(await uow.conn.scalar(PID))
            if not readonly:
                await uow.commit()
            return pid

    return set(await asyncio.gather(*(hold() for _ in range(n))))


def _checked_out(deps: Dependencies) -> int:
    return int(deps.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]


async def test_units_of_work_take_the_parked_connections(pg: Dependencies) -> None:
    first = await _pid(pg)
    assert await _pid(pg) == first
    assert await _pid(pg, readonly=True) == first  # set to autocommit, and back
    assert await _pid(pg) == first
    assert _checked_out(pg) == 1
    three = await _pids_at_once(pg, 3)
    assert first in three and len(three) == 3 and _checked_out(pg) == 3
    # no connection is opened while one of another kind waits
    assert await _pids_at_once(pg, 3, readonly=True) == three


async def test_a_write_after_a_read_is_still_one_transaction(pg: Dependencies) -> None:
    """A read-only unit of work runs in autocommit: were the connection it parked handed to a
    writer as it is, the writer's uncommitted insert would stay."""
    await _pid(pg, readonly=True)
    async with pg.uow() as uow:
        await _add_alice(uow)
    async with pg.uow(readonly=True) as uow:
        assert await uow.conn.scalar(select(t.users.c.id)) is None
        driver: Any = uow.conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        assert not driver.is_in_transaction()  # autocommit again


async def test_a_failed_unit_of_work_gives_its_connection_back(pg: Dependencies) -> None:
    with pytest.raises(RuntimeError):
        async with pg.uow() as uow:
            await _add_alice(uow)
            raise RuntimeError("the use case failed")
    assert _checked_out(pg) == 0
    async with pg.uow(readonly=True) as uow:
        assert await uow.conn.scalar(select(t.users.c.id)) is None


async def test_a_small_pool_parks_nothing(pg: Dependencies) -> None:
    url = pg.engine.url.render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=5)
    small = Dependencies(engine, pg.cipher, pg.clock, pg.rules)
    try:
        await _pid(small, readonly=True)
        await _pid(small)  # would wait out the pool's timeout for the one connection
        assert _checked_out(small) == 0
    finally:
        await engine.dispose()


async def test_disposing_of_the_engine_closes_the_parked_connections(pg: Dependencies) -> None:
    pids = list(await _pids_at_once(pg, 2))
    assert await _alive(pg, pids) == 2 and _checked_out(pg) == 2
    await pg.engine.dispose()
    assert await _until_gone(pg, pids) == 0


async def test_a_broken_connection_closes_the_parked_ones(pg: Dependencies) -> None:
    """Two connections parked, both ended by the server (as a restart would): the unit of
    work that meets the first fails, the next one gets a working connection."""

    pids = list(await _pids_at_once(pg, 2))
    assert len(pids) == 2
    engine = create_engine(pg.engine.url.render_as_string(hide_password=False))
    try:
        async with engine.connect() as conn:
            stmt = text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:p AS int[])) pid")
            await conn.execute(stmt, {"p": pids})
    finally:
        await engine.dispose()
    assert await _until_gone(pg, pids) == 0
    with pytest.raises(StorageUnavailable):
        await _pid(pg)
    assert await _pid(pg) not in pids
