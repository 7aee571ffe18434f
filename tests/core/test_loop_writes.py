"""Writing units of work on a SQLite file run on the loop's thread (store/loop.py, LoopWrites).

Checked against the aiosqlite path they replace, on the same inputs: the transfer script gives
the same outcomes, events and rows either way. Then concurrency: writers of one process queue
without blocking the loop and lose no update; a writer meeting another process's write lock
waits for it off the loop (the busy timeout honoured, the loop kept running); two processes
incrementing the same row through units of work lose no update; WAL checkpoints (an fsync)
happen in a thread, never inside a commit on the loop.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from telesip.domain.clock import FakeClock
from telesip.domain.model import Method
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import loop as loop_module
from telesip.store import migrate
from telesip.store import uow as uow_module
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine, loop_engines
from telesip.store.loop import LoopWrites

from . import transfers
from .helpers import ALICE, BOB, PASSWORD, sip


async def _services(path: Path, clock: FakeClock | None = None) -> Dependencies:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate.upgrade(engine)
    return Dependencies(engine, Cipher("test-key"), clock or FakeClock())


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[Dependencies]:
    deps = await _services(tmp_path / "telesip.db")
    async with deps.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter VALUES (0)"))
    yield deps
    await deps.engine.dispose()


def _no_loop_writes(m: pytest.MonkeyPatch) -> None:
    m.setattr(uow_module, "sqlite_writer", lambda engine: None)


async def test_loop_writes_and_aiosqlite_give_the_same_outcomes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = []
    for on_loop in (True, False):
        with monkeypatch.context() as m:
            if not on_loop:
                _no_loop_writes(m)
            clock = FakeClock()
            deps = await _services(tmp_path / f"{on_loop}.db", clock)
            try:
                async with deps.uow() as uow:
                    assert isinstance(uow.conn, LoopWrites) is on_loop
                runs.append(await transfers.run(deps, clock))
            finally:
                await deps.engine.dispose()
    transfers.assert_same(*runs)


async def test_the_transfer_cycle_writes_on_the_loop_thread(lite: Dependencies) -> None:
    engines = loop_engines(lite.engine)
    assert engines is not None
    on_writer: set[int] = set()
    on_aiosqlite: list[str] = []

    def writer_statement(*_: Any) -> None:
        on_writer.add(threading.get_ident())

    def aiosqlite_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        on_aiosqlite.append(statement)

    event.listen(engines.writer, "before_cursor_execute", writer_statement)
    event.listen(lite.engine.sync_engine, "before_cursor_execute", aiosqlite_statement)
    acc = await accounts.create_account(lite, ALICE, sip())
    for _ in range(3):
        offer = await offers.create_offer(lite, ALICE, acc, Method.UNLINK)
        await offers.receive(lite, BOB, offer.id)
        assert await offers.transfer_back(lite, ALICE, acc, PASSWORD)
    assert on_writer == {threading.get_ident()}
    assert on_aiosqlite == []


async def _increment(deps: Dependencies, pause: bool = True) -> None:
    """A read-modify-write in one unit of work (yielding to the loop in between)."""
    async with deps.uow() as uow:
        n = await uow.conn.scalar(text("SELECT n FROM counter"))
        if pause:
            await asyncio.sleep(0)  # let every other writer of this loop try its luck
        await uow.conn.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        await uow.commit()


async def _count(deps: Dependencies) -> int:
    async with deps.engine.connect() as conn:
        return int(await conn.scalar(text("SELECT n FROM counter")))


async def test_writers_of_one_loop_queue_and_lose_no_update(lite: Dependencies) -> None:
    async def writer() -> None:
        for _ in range(10):
            await _increment(lite)

    async with asyncio.timeout(30):
        await asyncio.gather(*(writer() for _ in range(20)))
    assert await _count(lite) == 200


async def test_writers_of_one_loop_reuse_the_one_connection(lite: Dependencies) -> None:
    """A writer gives the loop's connection back when its transaction ends, before the next
    writer is let in, even when its unit of work goes on (its events published) past the
    commit: fifty writers at once open no connection past the writer pool's one (a new
    SQLite connection reads the schema again and prepares every statement anew)."""
    engines = loop_engines(lite.engine)
    assert engines is not None
    opened: list[object] = []
    event.listen(engines.writer, "connect", lambda dbapi, _record: opened.append(dbapi))
    await _increment(lite)
    before = len(opened)

    async def writer() -> None:
        async with lite.uow() as uow:
            await uow.conn.execute(text("UPDATE counter SET n = n + 1"))
            await uow.commit()
            await asyncio.sleep(0)  # the unit of work goes on after its commit

    async with asyncio.timeout(30):
        await asyncio.gather(*(writer() for _ in range(50)))
    assert len(opened) == before
    assert engines.writer.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert await _count(lite) == 51


async def test_a_cancelled_writer_lets_the_next_one_in(lite: Dependencies) -> None:
    inside = asyncio.Event()

    async def stuck() -> None:
        async with lite.uow() as uow:
            await uow.conn.execute(text("UPDATE counter SET n = n + 100"))
            inside.set()
            await asyncio.Event().wait()  # holds the write lock until cancelled

    task = asyncio.create_task(stuck())
    await inside.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):  # not the 10 s a leaked lock would cost
        await _increment(lite)
    assert await _count(lite) == 1  # the cancelled one was rolled back


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("UPDATE counter SET n = n + 1000")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""


async def test_another_process_lock_is_waited_for_off_the_loop(
    lite: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = lite.engine.url.database
    assert db is not None
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _HOLD_LOCK,
        db,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdin is not None and holder.stdout is not None
    assert await holder.stdout.readline() == b"locked\n"
    fell_back = asyncio.Event()
    begin = LoopWrites._begin

    async def spy(self: LoopWrites) -> None:
        await begin(self)
        if self._async is not None:  # BEGIN IMMEDIATE was busy on the loop: aiosqlite waits
            fell_back.set()

    monkeypatch.setattr(LoopWrites, "_begin", spy)
    write = asyncio.create_task(_increment(lite, pause=False))
    await fell_back.wait()
    gaps, last = [], time.perf_counter()
    for _ in range(20):  # the loop keeps running while the write waits for the lock
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    assert not write.done()
    holder.stdin.write(b"go\n")
    await holder.stdin.drain()
    async with asyncio.timeout(10):
        await write
        assert await holder.wait() == 0
    assert await _count(lite) == 1001  # both writes, neither lost
    assert max(gaps) < 0.5, gaps  # the waiting never held the loop (scheduling noise aside)


_INCREMENTS = """
import asyncio, sys
sys.path.insert(0, sys.argv[2])
from tests.core.test_loop_writes import _increment
from telesip.domain.clock import FakeClock
from telesip.services.dependencies import Dependencies
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

async def main():
    s = Dependencies(create_engine("sqlite+aiosqlite:///" + sys.argv[1]), Cipher("test-key"))
    print("ready", flush=True)
    sys.stdin.readline()
    await asyncio.gather(*(run(s) for _ in range(2)))
    await s.engine.dispose()

async def run(s):
    for _ in range(25):
        await _increment(s)

asyncio.run(main())
"""


async def test_two_processes_writing_one_file_lose_no_update(lite: Dependencies) -> None:
    db = lite.engine.url.database
    assert db is not None
    other = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(_INCREMENTS),
        db,
        str(Path(__file__).parents[2]),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert other.stdin is not None and other.stdout is not None
    assert await other.stdout.readline() == b"ready\n"

    async def run() -> None:
        for _ in range(25):
            await _increment(lite)

    other.stdin.write(b"go\n")
    await other.stdin.drain()
    async with asyncio.timeout(60):
        await asyncio.gather(*(run() for _ in range(2)))
        assert await other.wait() == 0
    assert await _count(lite) == 2 * 2 * 25


async def test_checkpoints_run_in_a_thread_not_on_the_loop(
    lite: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    engines = loop_engines(lite.engine)
    assert engines is not None
    with engines.writer.connect() as conn:  # SQLite would checkpoint inside a commit
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    ran: list[tuple[int, tuple[int, int, int]]] = []
    finished = threading.Event()

    def spy(path: str) -> tuple[int, int, int]:
        result = checkpoint(path)
        ran.append((threading.get_ident(), result))
        finished.set()
        return result

    checkpoint = loop_module._checkpoint
    monkeypatch.setattr(loop_module, "_checkpoint", spy)
    monkeypatch.setattr(loop_module, "CHECKPOINT_EVERY", 20)
    for _ in range(20):
        await _increment(lite, pause=False)
    assert await asyncio.to_thread(finished.wait, 10)
    ((thread, (busy, frames, copied)),) = ran
    assert thread != threading.get_ident()
    assert busy == 0 and frames >= 20 and copied == frames  # the log went into the database
