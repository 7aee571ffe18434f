"""Big listings read through the database driver itself: the rows of a prepared SQLAlchemy
statement as the driver returns them, without SQLAlchemy's result processing (for a thousand
accounts that processing cost more CPU than the query and the driver together).

For statements whose columns need no type processing: integers, strings and booleans (which
SQLite returns as 0 and 1: the caller converts them). Used where the connection lets it:
PostgreSQL's asyncpg connection (the statement compiled once, asyncpg preparing it once per
connection) and a read-only unit of work's SQLite connection on the loop's thread. Anywhere
else, or when SQLite is busy, ``fetch`` returns None and the caller runs the statement the
usual way (the same rows, processed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from telesip.domain.errors import StorageUnavailable
from telesip.store.loop import LoopReads

# (id of the statement, dialect name) -> (the statement, its SQL, its parameters' order); the
# statement is kept so that its id is not reused while it is cached
_COMPILED: dict[tuple[int, str], tuple[Select[Any], str, tuple[str, ...]]] = {}


def _compiled(stmt: Select[Any], dialect: Any) -> tuple[str, tuple[str, ...]]:
    key = (id(stmt), dialect.name)
    found = _COMPILED.get(key)
    if found is None:
        compiled = stmt.compile(dialect=dialect)
        found = (stmt, str(compiled), tuple(compiled.positiontup or ()))
        _COMPILED[key] = found
    return found[1], found[2]


async def fetch(
    conn: AsyncConnection | LoopReads, stmt: Select[Any], params: Mapping[str, Any]
) -> Sequence[Sequence[Any]] | None:
    """The rows of ``stmt`` (built once, at module level) with ``params``, straight from the
    driver; None when this connection cannot (then execute ``stmt`` as usual)."""
    if isinstance(conn, LoopReads):
        reader = conn.driver_connection()
        if reader is None:
            return None
        sql, order = _compiled(stmt, conn.dialect)
        try:
            return reader.execute(sql, [params[name] for name in order]).fetchall()
        except sqlite3.Error:
            return None  # busy (a WAL reset), or anything else: the usual way says what
    driver = asyncpg_of(conn)
    if driver is None:
        return None
    sql, order = _compiled(stmt, conn.dialect)
    rows: list[Any] = await on_driver(driver.fetch, sql, *[params[name] for name in order])
    return rows


def asyncpg_of(conn: AsyncConnection | LoopReads) -> Any | None:
    """The asyncpg connection under a checked-out, valid PostgreSQL connection (no I/O), or
    None (another database, or a connection SQLAlchemy would have to re-establish). Also for
    the idempotency store's two statements (``repositories/idempotency.py``)."""
    if not isinstance(conn, AsyncConnection) or conn.dialect.name != "postgresql":
        return None
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        return None
    return sync.connection.driver_connection


async def on_driver(call: Any, *args: Any) -> Any:
    """``call(*args)`` of an asyncpg connection, its failures as ``StorageUnavailable`` (as
    the unit of work translates SQLAlchemy's)."""
    import asyncpg  # type: ignore[import-untyped]  # the 'pg' extra, present on PostgreSQL

    try:
        return await call(*args)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StorageUnavailable() from exc
