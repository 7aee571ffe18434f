"""Engine construction for SQLite (default) and PostgreSQL, with each one's concurrency setup.

SQLite: WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for every transaction, so
concurrent writers queue for the write lock instead of failing on a lock upgrade. Read-only
units of work on a SQLite file run on the event loop's thread (``sqlite_reader``): a WAL reader
never waits for the writer, and a card read costs a quarter of the CPU that aiosqlite's thread
hops did. PostgreSQL: READ COMMITTED with explicit row locks taken by the repositories.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine as AsyncEngine  # re-exported for the services
from sqlalchemy.ext.asyncio import create_async_engine

from telesip.domain.errors import ConfigError
from telesip.store.loop import release_single_statements


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Build the async engine for ``url`` or raise ConfigError with a readable reason."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(reason=f"bad database URL {_redact(url)}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.drivername != "sqlite+aiosqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
        engine = create_async_engine(parsed, **kwargs)
        _setup_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername != "postgresql+asyncpg":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        # Connections are opened on demand; pool_size is how many stay open between bursts.
        # It covers the bot's bounded handling (32 updates at once): with 10, every burst
        # past 10 opened overflow connections and closed them again on return (a new asyncpg
        # connection with SQLAlchemy's set-up queries costs several ms).
        kwargs.setdefault("pool_size", 32)
        kwargs.setdefault("max_overflow", 16)
        kwargs.setdefault("pool_pre_ping", False)
        try:
            return create_async_engine(parsed, **kwargs)
        except ModuleNotFoundError:
            raise ConfigError(
                reason="PostgreSQL needs the 'pg' extra: pip install 'telesip[pg]'"
            ) from None
    raise ConfigError(reason=f"unsupported database {backend!r}; use sqlite or postgresql")


def _setup_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # let us issue BEGIN ourselves (pysqlite's implicit transactions defeat IMMEDIATE)
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # readers (WAL) neither wait for nor block the writer; writers take the lock up front
        readonly = conn.get_execution_options().get("telesip_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


# A read connection must not hold up the loop: past this it gives up (SQLITE_BUSY only
# happens to a WAL reader during recovery or a WAL reset) and the read goes the aiosqlite way.
READER_BUSY_MS = 50
# A write connection on the loop waits this long for another connection's write lock (another
# process, or this one's aiosqlite connections), then its unit of work goes the aiosqlite way,
# which waits up to the engine's busy timeout in a thread. Writers of this process queue on an
# asyncio lock first (``sqlite_writer``), so they never meet here.
WRITER_BUSY_MS = 5


@dataclass(frozen=True)
class LoopEngines:
    """Synchronous pysqlite engines on an engine's SQLite file, for units of work on the
    loop's thread: ``reader`` (``query_only``, deferred BEGIN: one snapshot per unit of work)
    and ``writer`` (BEGIN IMMEDIATE, a short busy timeout). Neither pool ever makes a checkout
    wait: past its size connections are opened and closed."""

    reader: Engine
    writer: Engine


_loop_engines: weakref.WeakKeyDictionary[AsyncEngine, LoopEngines | None] = (
    weakref.WeakKeyDictionary()
)


def _loop_engine(engine: AsyncEngine, pragmas: list[str], begin: str, pool_size: int) -> Engine:
    sync = create_sync_engine(
        engine.url.set(drivername="sqlite+pysqlite"), pool_size=pool_size, max_overflow=-1
    )

    @event.listens_for(sync, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync, "begin")
    def _on_begin(conn: Any) -> None:
        # straight on the driver's connection: a SQLAlchemy execution of its own (context,
        # events, result) cost as much as the card's read around it. Its errors (a busy
        # file) are raised as SQLAlchemy's, as every statement's are.
        try:
            conn.connection.driver_connection.execute(begin)
        except sqlite3.OperationalError as exc:
            raise OperationalError(begin, None, exc) from exc

    return sync


def loop_engines(engine: AsyncEngine) -> LoopEngines | None:
    """The loop-thread engines of ``engine``; None for other databases and in-memory SQLite."""
    if engine in _loop_engines:
        return _loop_engines[engine]
    engines: LoopEngines | None = None
    url = engine.url
    memory = not url.database or url.database == ":memory:" or "memory" in str(url.query)
    if url.get_backend_name() == "sqlite" and not memory:
        # a unit of work can hold a reader across awaits: several may be open at once
        reader = _loop_engine(
            engine, ["PRAGMA query_only=ON", f"PRAGMA busy_timeout={READER_BUSY_MS}"], "BEGIN", 8
        )
        writer = _loop_engine(
            engine,
            [
                "PRAGMA synchronous=NORMAL",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={WRITER_BUSY_MS}",
                # its checkpoints (an fsync) run in a thread: store/loop.py
                "PRAGMA wal_autocheckpoint=0",
            ],
            "BEGIN IMMEDIATE",
            1,
        )
        engines = LoopEngines(reader, writer)

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _on_dispose(_engine: Any) -> None:
            release_single_statements(reader)
            reader.dispose()
            writer.dispose()

    _loop_engines[engine] = engines
    return engines


def sqlite_reader(engine: AsyncEngine) -> Engine | None:
    """The synchronous read engine on ``engine``'s SQLite file (see ``loop_engines``)."""
    engines = loop_engines(engine)
    return engines.reader if engines is not None else None


_writer_gates: weakref.WeakKeyDictionary[
    AsyncEngine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]
] = weakref.WeakKeyDictionary()


def sqlite_writer(engine: AsyncEngine) -> tuple[Engine, asyncio.Lock] | None:
    """The synchronous write engine on ``engine``'s SQLite file and the lock its units of work
    on this loop take before BEGIN IMMEDIATE (SQLite has one writer at a time: they queue on
    the lock, off the loop's back, instead of in the busy handler, on it). None where
    ``loop_engines`` is None."""
    engines = loop_engines(engine)
    if engines is None:
        return None
    loop = asyncio.get_running_loop()
    gate = _writer_gates.get(engine)
    if gate is None or gate[0] is not loop:
        gate = (loop, asyncio.Lock())
        _writer_gates[engine] = gate
    return engines.writer, gate[1]
