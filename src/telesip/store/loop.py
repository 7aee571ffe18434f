"""Units of work on a SQLite file whose statements run on the event loop's thread, through the
synchronous engines of ``db.loop_engines``: no aiosqlite thread hop per statement (several per
statement, each a wake-up of the loop: most of a transfer cycle's CPU went there).

``LoopReads`` serves read-only units of work; ``LoopWrites`` the others. Both offer what the
repositories use of an ``AsyncConnection`` and go on through aiosqlite when the file is busy,
so the loop never waits long for another connection:

- a reader is a WAL snapshot: it never waits for a writer (SQLITE_BUSY only during recovery or
  a WAL reset, ``db.READER_BUSY_MS``);
- a writer first takes the engine's asyncio lock (``db.sqlite_writer``): writers of this
  process queue there, without blocking the loop, and hold it until their transaction ends.
  Then BEGIN IMMEDIATE waits at most ``db.WRITER_BUSY_MS`` for another process's write lock
  (or this process's aiosqlite connections'); past that the unit of work, which has done
  nothing yet, takes an aiosqlite connection and waits for the lock in its thread, as every
  write did before. Once the write lock is held, a statement cannot meet SQLITE_BUSY.

Each statement then costs the loop its own time only: a write transaction of the transfer cycle
holds it a few hundred µs (``bench/bench_core.py`` measures the longest stall). What could hold
it for long is a WAL checkpoint (it copies the log into the database file and fsyncs it), so the
loop's writer makes none (``wal_autocheckpoint=0``, db.py): every ``CHECKPOINT_EVERY`` of its
commits a passive checkpoint runs in a thread, which neither takes nor waits for the write lock.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import weakref
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telesip.domain.errors import StorageUnavailable

# A writer waits this long for the other writers of its process (the aiosqlite path's busy
# timeout, db.py); past it the unit of work fails as a busy database would.
WRITER_QUEUE_S = 10.0


# Commits of a loop writer between two checkpoints: a transfer cycle's three make ~30 pages of
# log, so the log stays around the size SQLite's own autocheckpoint (1,000 pages) keeps it.
CHECKPOINT_EVERY = 100

log = logging.getLogger(__name__)
# per writer engine: its commits since the last checkpoint, and the checkpoint running (if any)
_checkpoints: weakref.WeakKeyDictionary[Engine, list[Any]] = weakref.WeakKeyDictionary()


def _checkpoint(path: str) -> tuple[int, int, int]:
    """A passive checkpoint of the database at ``path`` (in a thread): (busy, log frames,
    frames checkpointed)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(frames), int(done)
    finally:
        conn.close()


def _committed(writer: Engine) -> None:
    state = _checkpoints.setdefault(writer, [0, None])
    state[0] += 1
    if state[0] < CHECKPOINT_EVERY or state[1] is not None or not writer.url.database:
        return
    state[0] = 0
    done = asyncio.get_running_loop().run_in_executor(None, _checkpoint, writer.url.database)
    state[1] = done

    def _finished(future: asyncio.Future[tuple[int, int, int]]) -> None:
        state[1] = None
        if not future.cancelled() and (exc := future.exception()) is not None:
            log.warning("SQLite checkpoint failed (the next one retries): %s", exc)

    done.add_done_callback(_finished)


def _busy(exc: OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


# per reader engine, per thread: a connection of its pool kept for statements read through the
# driver on their own (``driver_connection``), outside any unit of work's snapshot
_single: weakref.WeakKeyDictionary[Engine, dict[int, Any]] = weakref.WeakKeyDictionary()


def _single_statements(reader: Engine) -> sqlite3.Connection:
    held = _single.setdefault(reader, {})
    thread = threading.get_ident()
    conn = held.get(thread)
    if conn is None:
        conn = held[thread] = reader.raw_connection()
    driver: Any = conn.driver_connection
    return driver  # type: ignore[no-any-return]


def release_single_statements(reader: Engine) -> None:
    """Close the connections kept for single statements (the engine is disposed)."""
    for conn in _single.pop(reader, {}).values():
        conn.invalidate()


class LoopReads:
    """A read-only unit of work's connection: statements on a synchronous SQLite read
    connection on the loop's thread, checked out of the reader's pool at the first statement
    that SQLAlchemy runs (a unit of work whose only statement is read through the driver,
    such as the bot's card, checks out none). If the file is busy, the unit of work goes on
    through aiosqlite like any other."""

    def __init__(self, engine: AsyncEngine, reader: Engine) -> None:
        self._engine = engine
        self._reader = reader
        self._sync: Connection | None = None
        self._async: AsyncConnection | None = None
        self.dialect = reader.dialect

    async def _fallback(self) -> AsyncConnection:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        if self._async is None:
            self._async = await self._engine.connect()
            await self._async.execution_options(telesip_readonly=True)
        return self._async

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self._async is None:
            try:
                if self._sync is None:
                    self._sync = self._reader.connect()
                return self._sync.execute(*args, **kwargs)
            except OperationalError as exc:
                if not _busy(exc):
                    raise
        return await (await self._fallback()).execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return (await self.execute(*args, **kwargs)).scalar()

    def driver_connection(self) -> sqlite3.Connection | None:
        """A sqlite3 connection for a statement read through the driver
        (``store/fast_reads.py``): the unit of work's own once it has one, else the one the
        reader keeps on this thread for such statements (a statement on its own is its own
        snapshot either way); None once the unit of work went the aiosqlite way."""
        if self._async is not None:
            return None
        if self._sync is None:
            return _single_statements(self._reader)
        driver: sqlite3.Connection | None = self._sync.connection.driver_connection
        return driver

    def in_transaction(self) -> bool:
        conn = self._sync or self._async
        return conn is not None and conn.in_transaction()

    async def commit(self) -> None:  # a read-only unit of work's commit ends its snapshot
        await self.rollback()

    async def rollback(self) -> None:
        if self._sync is not None:
            self._sync.rollback()
        elif self._async is not None:
            await self._async.rollback()

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        if self._async is not None:
            await self._async.close()

    def close_on_loop(self) -> bool:
        """Ends the snapshot and gives the connection back to its pool at once, when the unit
        of work never left the loop's thread (no aiosqlite fallback): there is nothing to
        await, so nothing a cancellation could interrupt. False (nothing done) otherwise."""
        if self._async is not None:
            return False
        if self._sync is not None:
            self._sync.close()  # rolls the snapshot back; the pool's reset on return is a no-op
            self._sync = None
        return True

    async def invalidate(self) -> None:
        if self._sync is not None:
            self._sync.invalidate()
        if self._async is not None:
            await self._async.invalidate()


class LoopWrites:
    """A writing unit of work's connection: BEGIN IMMEDIATE on a synchronous SQLite connection
    on the loop's thread at its first statement, under this process's writer lock, released
    when the transaction ends. A busy file sends the unit of work through aiosqlite."""

    def __init__(self, engine: AsyncEngine, writer: Engine, gate: asyncio.Lock) -> None:
        self._engine = engine
        self._writer = writer
        self._gate = gate
        self._held = False
        self._sync: Connection | None = None
        self._async: AsyncConnection | None = None
        self.dialect = engine.dialect

    async def _begin(self) -> None:
        try:
            async with asyncio.timeout(WRITER_QUEUE_S):
                await self._gate.acquire()
        except TimeoutError:
            raise StorageUnavailable() from None
        self._held = True
        conn = self._writer.connect()
        try:
            conn.begin()
        except OperationalError as exc:
            conn.close()
            self._release()
            if not _busy(exc):
                raise
            self._async = await self._engine.connect()  # waits for the lock off the loop
            return
        self._sync = conn

    def _release(self) -> None:
        if self._held:
            self._held = False
            self._gate.release()

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        if self._sync is not None:
            if not self._sync.in_transaction():  # after a commit: a new transaction
                self._sync.close()
                self._sync = None
            else:
                return self._sync.execute(*args, **kwargs)
        if self._async is None:
            await self._begin()
            if self._sync is not None:
                return self._sync.execute(*args, **kwargs)
        assert self._async is not None
        return await self._async.execute(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return (await self.execute(*args, **kwargs)).scalar()

    def in_transaction(self) -> bool:
        conn = self._sync or self._async
        return conn is not None and conn.in_transaction()

    async def commit(self) -> None:
        try:
            if self._sync is not None:
                self._sync.commit()
                _committed(self._writer)
            elif self._async is not None:
                await self._async.commit()
        finally:
            self._end()

    async def rollback(self) -> None:
        try:
            if self._sync is not None:
                self._sync.rollback()
            elif self._async is not None:
                await self._async.rollback()
        finally:
            self._end()

    def _end(self) -> None:
        """The transaction ended: the loop's connection goes back to its pool *before* the
        next writer of this process is let in. Given back later (at the unit of work's end,
        after its events were published), the next writer found the pool's one connection
        out and opened a new one, closed again on return: a connection, its pragmas, the
        schema and every statement prepared again on nearly every write."""
        try:
            if self._sync is not None:
                sync, self._sync = self._sync, None
                sync.close()
        finally:
            self._release()

    def close_on_loop(self) -> bool:
        """Gives the connection back and lets the next writer in, at once, when the unit of
        work never left the loop's thread (no aiosqlite fallback): nothing to await, so
        nothing a cancellation could interrupt (a transaction still open is rolled back by the
        pool's reset). False (nothing done) otherwise."""
        if self._async is not None:
            return False
        self._end()
        return True

    async def close(self) -> None:
        try:
            if self._sync is not None:
                self._sync.close()
            if self._async is not None:
                await self._async.close()
        finally:
            self._release()

    async def invalidate(self) -> None:
        try:
            if self._sync is not None:
                self._sync.invalidate()
            if self._async is not None:
                await self._async.invalidate()
        finally:
            self._release()
