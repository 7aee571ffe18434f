"""The unit of work: one database transaction, the repositories bound to it, and the events
and audit records of the use case. Rolls back unless committed; publishes events after commit.
Every database failure of the use case leaves it as ``StorageUnavailable``, or ``StorageFull``
when the disk is full (``store/failures.py``).

The transaction begins with the first statement (SQLAlchemy's autobegin; on SQLite the
``begin`` listener makes it ``BEGIN IMMEDIATE`` unless read-only), so a transfer step that runs
on PostgreSQL's fast statements (``transfers``, through ``pg_statements()``) pays for no SQLAlchemy
transaction at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import DateTime, Interval, func, literal, type_coerce
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from telesip.domain.clock import Clock
from telesip.domain.errors import ConflictError
from telesip.domain.errors import StorageUnavailable as StorageUnavailable  # re-exported
from telesip.domain.events import Event
from telesip.store.crypto import Cipher
from telesip.store.db import sqlite_reader, sqlite_writer
from telesip.store.failures import is_disk_full, storage_error
from telesip.store.loop import LoopReads, LoopWrites
from telesip.store.parking import Parking, discard_all, parking
from telesip.store.repositories.accounts import Accounts
from telesip.store.repositories.api_keys import ApiKeys
from telesip.store.repositories.audit import Audit
from telesip.store.repositories.bot_updates import BotUpdates
from telesip.store.repositories.callers import Callers
from telesip.store.repositories.calls import Calls
from telesip.store.repositories.conversations import Conversations
from telesip.store.repositories.guesses import Guesses
from telesip.store.repositories.idempotency import IdempotencyKeys
from telesip.store.repositories.imports import PendingImports
from telesip.store.repositories.leases import Leases
from telesip.store.repositories.links import Links
from telesip.store.repositories.offers import Offers
from telesip.store.repositories.stats import Stats
from telesip.store.repositories.templates import Templates
from telesip.store.repositories.transfers import Transfers
from telesip.store.repositories.users import Users
from telesip.store.repositories.webhooks import Webhooks
from telesip.store.repositories.workers import Workers

if TYPE_CHECKING:
    from telesip.store.pg_statements import PgStatements
    from telesip.store.repositories.transfers_pg import PgTransfers

Publisher = Callable[[Sequence[Event]], Awaitable[None]]

# Reads only. SQLite: a plain BEGIN (see db.py), no write lock. PostgreSQL: autocommit, no
# transaction at all; under READ COMMITTED each statement has its own snapshot either way, so
# BEGIN and ROLLBACK would only add two round trips (the bot's card is one statement).
_AUTOCOMMIT = "AUTOCOMMIT"
_DEFAULT = "default"  # the server's isolation level (READ COMMITTED unless configured)


R = TypeVar("R")


def _server_time(ago: float) -> ColumnElement[datetime]:
    """PostgreSQL's clock (the transaction's start, UTC, naive as stored), ``ago`` s back."""
    now: ColumnElement[Any] = func.timezone("UTC", func.now())
    if ago:
        now = now - literal(timedelta(seconds=ago), Interval())
    return type_coerce(now, DateTime())


def _broken(exc: BaseException | None) -> bool:
    """Whether a use case failed on the database itself (not on a constraint: a conflict)."""
    if isinstance(exc, DBAPIError):
        return not isinstance(exc, IntegrityError)
    return isinstance(exc, (OSError, StorageUnavailable))


class _OnFirstUse(Generic[R]):
    """A repository on the unit of work's connection, made when a use case first asks for it
    and then kept on the instance (a non-data descriptor: later lookups find it there), so a
    use case pays only for the repositories it touches."""

    def __init__(self, make: Callable[[UnitOfWork], R]) -> None:
        self.make = make

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, uow: UnitOfWork, owner: type | None = None) -> R:
        repo = self.make(uow)
        uow.__dict__[self.name] = repo
        return repo


def _transfers(uow: UnitOfWork) -> Transfers:
    """The transfer steps: PostgreSQL's fast statements where they apply, else Core."""
    if uow.dialect != "postgresql":
        return Transfers(uow.conn, uow.cipher, uow)
    return _pg_transfers()(uow.conn, uow.cipher, uow, uow.pg_statements)


@cache
def _pg_transfers() -> type[PgTransfers]:
    from telesip.store.repositories.transfers_pg import PgTransfers  # the 'pg' extra

    return PgTransfers


@cache
def _pg_statements() -> type[PgStatements]:
    from telesip.store.pg_statements import PgStatements  # asyncpg is the 'pg' extra

    return PgStatements


class UnitOfWork:
    conn: AsyncConnection

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        clock: Clock,
        publish: Publisher | None = None,
        *,
        readonly: bool = False,
        single_statement: bool = False,
    ) -> None:
        self._readonly = readonly  # reads only: on SQLite no write lock is taken
        # one atomic write: on PostgreSQL it runs outside a transaction (see uow() in
        # services/dependencies.py); on SQLite nothing changes (its writes cost no round trip)
        self._single = single_statement
        self._engine = engine
        self.cipher = cipher
        self._publish = publish
        self.now: datetime = clock.now()
        self._clock = clock
        self.events: list[Event] = []
        self._committed = False
        self._pg: PgStatements | None = None
        self._parking: Parking | None = None  # PostgreSQL's, once connected
        # read once: the async engine's own ``dialect`` goes through a proxy on every read
        self.dialect: str = engine.sync_engine.dialect.name

    def lease_time(self, ago: float = 0.0) -> datetime | ColumnElement[datetime]:
        """The time leases are measured on (a heartbeat's ``last_seen``, a lease's
        ``acquired_at``, "seen after" for liveness), ``ago`` seconds back. On PostgreSQL with
        a wall clock, the database server's clock, inside the statement (no round trip): every
        worker measures on that one clock, so one whose own clock steps an hour neither
        steals the others' leases nor loses its own. On SQLite the database is a file of this
        machine, whose clock every process shares, and with a fake clock (tests) it is the
        test's: this unit of work's ``now``."""
        if self.dialect == "postgresql" and self._clock.is_wall_clock:
            return _server_time(ago)
        return self.now - timedelta(seconds=ago) if ago else self.now

    async def __aenter__(self) -> UnitOfWork:
        try:
            if self.dialect == "sqlite":
                reader = sqlite_reader(self._engine) if self._readonly else None
                writer = None if self._readonly else sqlite_writer(self._engine)
                if reader is not None:
                    self.conn = LoopReads(self._engine, reader)  # type: ignore[assignment]
                    return self
                if writer is not None:
                    self.conn = LoopWrites(self._engine, *writer)  # type: ignore[assignment]
                    return self
            if self.dialect == "postgresql":
                self.conn = await self._pg_connection()
                return self
            self.conn = await self._engine.connect()
            if self._readonly:
                await self.conn.execution_options(telesip_readonly=True)
        except (DBAPIError, OSError) as exc:
            raise storage_error(exc, self._engine) from exc
        return self

    async def _pg_connection(self) -> AsyncConnection:
        """A parked connection of this kind (``store/parking.py``), else one from the pool,
        set to the kind's isolation level."""
        self._parking = parking(self._engine)
        parked = self._parking.take(self._kind) if self._parking is not None else None
        if parked is None:
            conn, kind = await self._engine.connect(), _DEFAULT
        else:
            conn, kind = parked
        if kind != self._kind:
            level = _AUTOCOMMIT if self._kind == _AUTOCOMMIT else self._default_isolation()
            await conn.execution_options(isolation_level=level)
        return conn

    @property
    def _kind(self) -> str:
        # reads only: no transaction at all (see _AUTOCOMMIT); one atomic write: none either
        return _AUTOCOMMIT if self._readonly or self._single else _DEFAULT

    def _default_isolation(self) -> str:
        """The server's own level, as the pool sets a connection back to (read when the
        engine first connected: a parked connection exists)."""
        return str(self._engine.sync_engine.dialect.default_isolation_level)

    users = _OnFirstUse(lambda uow: Users(uow.conn))
    accounts = _OnFirstUse(lambda uow: Accounts(uow.conn, uow.cipher))
    offers = _OnFirstUse(lambda uow: Offers(uow.conn))
    links = _OnFirstUse(lambda uow: Links(uow.conn))
    audit = _OnFirstUse(lambda uow: Audit(uow.conn))
    guesses = _OnFirstUse(lambda uow: Guesses(uow.conn))
    transfers = _OnFirstUse(_transfers)
    calls = _OnFirstUse(lambda uow: Calls(uow.conn))
    callers = _OnFirstUse(lambda uow: Callers(uow.conn))
    workers = _OnFirstUse(lambda uow: Workers(uow.conn))
    webhooks = _OnFirstUse(lambda uow: Webhooks(uow.conn, uow.cipher))
    conversations = _OnFirstUse(lambda uow: Conversations(uow.conn))
    stats = _OnFirstUse(lambda uow: Stats(uow.conn))
    api_keys = _OnFirstUse(lambda uow: ApiKeys(uow.conn))
    idempotency = _OnFirstUse(lambda uow: IdempotencyKeys(uow.conn))
    templates = _OnFirstUse(lambda uow: Templates(uow.conn))
    leases = _OnFirstUse(lambda uow: Leases(uow.conn, uow.cipher))
    pending_imports = _OnFirstUse(lambda uow: PendingImports(uow.conn, uow.cipher))
    bot_updates = _OnFirstUse(lambda uow: BotUpdates(uow.conn, uow.cipher))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None and self._park():
            return  # no transaction open: the connection waits for the next unit of work
        # Shielded: a task cancelled in the middle of a use case (a worker stopping) still
        # rolls back and gives the connection back; otherwise SQLite would keep its write lock
        # until the connection is collected, and every other writer would wait for it. A
        # release with no await point (a loop-thread SQLite read, a PostgreSQL connection with
        # no transaction open) needs no shield: nothing can cancel it halfway.
        try:
            if self._released_on_loop():
                pass
            elif self._quiet():
                await self._release()  # it has no await point a cancellation could stop
            else:
                await asyncio.shield(self._release())
        except (DBAPIError, OSError) as release_error:  # the connection died (a restart)
            if exc is None:
                raise storage_error(release_error, self._engine) from release_error
            # else the error in flight says more (translated below, or propagated as it is)
        if self._parking is not None and _broken(exc):
            await discard_all(self._engine)  # they are likely broken too (a restart)
        if isinstance(exc, IntegrityError):
            raise ConflictError() from exc
        if isinstance(exc, DBAPIError):
            raise storage_error(exc, self._engine) from exc
        if type(exc) is StorageUnavailable and is_disk_full(exc):  # said by a repository
            raise storage_error(exc, self._engine) from exc.__cause__

    def _park(self) -> bool:
        """PostgreSQL: leave the connection in the parking (``store/parking.py``) if no
        transaction is open on it and its kind has room; True when left there."""
        lot = self._parking
        if lot is None:
            return False
        sync = self.conn.sync_connection
        if sync is None or sync.invalidated:
            return False
        if self._kind == _AUTOCOMMIT and sync.in_transaction():
            # SQLAlchemy's bookkeeping of a statement it ran: in autocommit the driver has
            # no transaction, so ending it sends nothing and needs no await
            driver: Any = sync.connection.driver_connection  # checked out and valid
            if driver.is_in_transaction():
                return False
            sync.rollback()
        return self._quiet() and lot.park(self._kind, self.conn)

    def _released_on_loop(self) -> bool:
        """A unit of work on SQLite's loop-thread connection ends without an await (so without
        the shield's task and the loop turn it costs, during which other readers would open
        connections past the pool's size): True when done that way."""
        conn: Any = self.conn  # typed as what the repositories use of it
        kind = type(conn)
        return (kind is LoopReads or kind is LoopWrites) and conn.close_on_loop()

    def _quiet(self) -> bool:
        """Whether releasing is only giving a PostgreSQL connection back to the pool: no
        transaction open on it (the raw statements' nor SQLAlchemy's), so the pool's reset
        sends nothing and the release never waits (a shield's task would cost more than it)."""
        if self.dialect != "postgresql":
            return False
        if self._pg is not None and self._pg.in_transaction():
            return False
        sync = self.conn.sync_connection
        return sync is not None and not sync.in_transaction()

    async def _release(self) -> None:
        try:
            if self._pg is not None:
                try:
                    await self._pg.close()
                except BaseException:
                    await self.conn.invalidate()  # the pool must not get it mid-transaction
                    raise
            if not self._committed and self.conn.in_transaction():
                await self.conn.rollback()
        finally:
            await self.conn.close()

    async def record(
        self,
        action: str,
        account_id: int | None,
        actor_id: int | None,
        details: dict[str, Any] | None = None,
        event: Event | None = None,
    ) -> None:
        """Write the use case's audit record (never a secret in ``details``) and its event."""
        await self.audit.add(self.now, actor_id, account_id, action, details or {})
        if event is not None:
            self.events.append(event)

    async def pg_statements(self) -> PgStatements | None:
        """The transfer cycle's PostgreSQL statements on this unit of work's connection, or
        None on other databases; for ``transfers`` only, before any other repository runs a
        statement: it drives the connection's transaction itself (SQLAlchemy begins lazily, so
        none is open yet). Committed and rolled back with the unit of work.
        """
        if self._pg is None:
            if self.dialect != "postgresql":
                return None
            sync = self.conn.sync_connection
            if sync is not None and not sync.invalidated:
                raw = sync.connection  # checked out and valid: no I/O, no greenlet
            else:
                raw = await self.conn.get_raw_connection()
            self._pg = _pg_statements()(raw.driver_connection)
        return self._pg

    def add_event(self, event: Event) -> None:
        """An event of a use case whose audit record a hot-path statement wrote."""
        self.events.append(event)

    async def commit(self) -> None:
        if self._pg is not None:
            await self._pg.commit()
        if self.conn.in_transaction():
            await self.conn.commit()
        self._committed = True
        if self._publish is not None and self.events:
            await self._publish(tuple(self.events))
