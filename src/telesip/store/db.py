"""Engine construction for SQLite (default) and PostgreSQL, with each one's concurrency setup.

SQLite: WAL, a busy timeout, foreign keys, and ``BEGIN IMMEDIATE`` for every transaction, so
concurrent writers queue for the write lock instead of failing on a lock upgrade. Read-only
units of work on a SQLite file run on the event loop's thread (``sqlite_reader``): a WAL reader
never waits for the writer, and a card read costs a quarter of the CPU that aiosqlite's thread
hops did. PostgreSQL: READ COMMITTED with explicit row locks taken by the repositories.
"""

from __future__ import annotations

import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from telesip.domain.errors import ConfigError


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
_readers: weakref.WeakKeyDictionary[AsyncEngine, Engine | None] = weakref.WeakKeyDictionary()


def sqlite_reader(engine: AsyncEngine) -> Engine | None:
    """A synchronous pysqlite engine on the same SQLite file, for read-only units of work on
    the loop's thread; None for other databases and for in-memory SQLite. Its connections are
    ``query_only`` and start deferred transactions (one snapshot per unit of work)."""
    if engine in _readers:
        return _readers[engine]
    reader: Engine | None = None
    url = engine.url
    memory = not url.database or url.database == ":memory:" or "memory" in str(url.query)
    if url.get_backend_name() == "sqlite" and not memory:
        # never waits for a connection: a checkout that blocked would block the loop (a unit
        # of work can hold one across awaits); past pool_size they are opened and closed
        sync = create_sync_engine(
            url.set(drivername="sqlite+pysqlite"), pool_size=8, max_overflow=-1
        )

        @event.listens_for(sync, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA query_only=ON")
            cursor.execute(f"PRAGMA busy_timeout={READER_BUSY_MS}")
            cursor.close()

        @event.listens_for(sync, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _on_dispose(_engine: Any) -> None:
            sync.dispose()

        reader = sync

    _readers[engine] = reader
    return reader
