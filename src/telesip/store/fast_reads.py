"""Big listings read through the database driver itself: the rows of a prepared SQLAlchemy
statement as the driver returns them, without SQLAlchemy's result processing (for a thousand
accounts that processing cost more CPU than the query and the driver together).

``fetch`` is for statements whose columns need no type processing: integers, strings and
booleans (which SQLite returns as 0 and 1: the caller converts them). ``fetch_processed`` binds
and converts as SQLAlchemy would (each parameter's and each column's own processor for the
dialect, looked up once per statement) and gives rows read by name, as SQLAlchemy's are (the
bot's account card, read on every press). Used where the connection lets it:
PostgreSQL's asyncpg connection (the statement compiled once, asyncpg preparing it once per
connection) and a read-only unit of work's SQLite connection on the loop's thread. Anywhere
else, or when SQLite is busy, ``fetch`` returns None and the caller runs the statement the
usual way (the same rows, processed).
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
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


class _Processing:
    """How ``fetch_processed`` binds a statement's parameters and converts its rows on one
    dialect: the SQL, the parameters in order with their bind processors, the columns' result
    processors and the class of its rows."""

    def __init__(self, stmt: Select[Any], dialect: Any) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        names = tuple(compiled.positiontup or ())
        # each parameter: its name, its processor and its value when the caller gives none
        # (the values the statement itself carries, as a LIMIT's)
        self.binds = [
            (
                name,
                compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect),
                compiled.binds[name].effective_value,
            )
            for name in names
        ]
        processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None)
            for c in stmt.selected_columns
        ]
        # only the columns that have one (most values come from the driver as they are)
        self.results = [(i, process) for i, process in enumerate(processors) if process]
        self.row = _row_class(tuple(stmt.selected_columns.keys()))

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        values = [params.get(name, value) for name, _, value in self.binds]
        return [
            value if process is None else process(value)
            for value, (_, process, _) in zip(values, self.binds, strict=True)
        ]

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        found = []
        for row in raw:
            values = list(row)
            for i, process in self.results:
                if values[i] is not None:
                    values[i] = process(values[i])
            found.append(self.row._make(values))
        return found


def _row_class(keys: tuple[str, ...]) -> Any:
    """A tuple whose values are read by name (``row.login``) and through ``_mapping``, as a
    SQLAlchemy ``Row``'s are."""
    base: Any = namedtuple("FastRow", keys)  # type: ignore[misc]  # names known at run time

    class FastRow(base):
        __slots__ = ()

        @property
        def _mapping(self) -> dict[str, Any]:
            return dict(zip(self._fields, self, strict=True))

    return FastRow


_PROCESSING: dict[tuple[int, str], tuple[Select[Any], _Processing]] = {}


def _processing(stmt: Select[Any], dialect: Any) -> _Processing:
    key = (id(stmt), dialect.name)
    found = _PROCESSING.get(key)
    if found is None:
        found = (stmt, _Processing(stmt, dialect))
        _PROCESSING[key] = found
    return found[1]


async def fetch_processed(
    conn: AsyncConnection | LoopReads, stmt: Select[Any], params: Mapping[str, Any]
) -> list[Any] | None:
    """The rows of ``stmt`` (built once, at module level) with ``params``, straight from the
    driver, each value converted as SQLAlchemy converts it and read by name as in its rows;
    None when this connection cannot (then execute ``stmt`` as usual)."""
    if isinstance(conn, LoopReads):
        reader = conn.driver_connection()
        if reader is None:
            return None
        how = _processing(stmt, conn.dialect)
        try:
            raw = reader.execute(how.sql, how.parameters(params)).fetchall()
        except sqlite3.Error:
            return None  # busy (a WAL reset), or anything else: the usual way says what
        return how.rows(raw)
    driver = asyncpg_of(conn)
    if driver is None:
        return None
    how = _processing(stmt, conn.dialect)
    records = await on_driver(driver.fetch, how.sql, *how.parameters(params))
    return how.rows(records)


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
