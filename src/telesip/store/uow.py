"""The unit of work: one database transaction, the repositories bound to it, and the events
and audit records of the use case. Rolls back unless committed; publishes events after commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from telesip.domain.clock import Clock
from telesip.domain.errors import ConflictError
from telesip.domain.errors import StorageUnavailable as StorageUnavailable  # re-exported
from telesip.domain.events import Event
from telesip.store.crypto import Cipher
from telesip.store.repositories import Accounts, Audit, Guesses, Links, Offers, Users

Publisher = Callable[[Sequence[Event]], Awaitable[None]]


class UnitOfWork:
    users: Users
    accounts: Accounts
    offers: Offers
    links: Links
    audit: Audit
    guesses: Guesses
    conn: AsyncConnection

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        clock: Clock,
        publish: Publisher | None = None,
        *,
        readonly: bool = False,
    ) -> None:
        self._readonly = readonly  # reads only: on SQLite no write lock is taken
        self._engine = engine
        self._cipher = cipher
        self._publish = publish
        self.now: datetime = clock.now()
        self.events: list[Event] = []
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        try:
            self.conn = await self._engine.connect()
            if self._readonly:
                await self.conn.execution_options(telesip_readonly=True)
            await self.conn.begin()
        except (DBAPIError, OSError) as exc:
            raise StorageUnavailable() from exc
        self.users = Users(self.conn)
        self.accounts = Accounts(self.conn, self._cipher)
        self.offers = Offers(self.conn)
        self.links = Links(self.conn)
        self.audit = Audit(self.conn)
        self.guesses = Guesses(self.conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self._committed:
                await self.conn.rollback()
        finally:
            await self.conn.close()
        if isinstance(exc, IntegrityError):
            raise ConflictError() from exc
        if isinstance(exc, DBAPIError):
            raise StorageUnavailable() from exc

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

    async def commit(self) -> None:
        await self.conn.commit()
        self._committed = True
        if self._publish is not None and self.events:
            await self._publish(tuple(self.events))
