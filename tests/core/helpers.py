"""People and settings for the service-layer tests, and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text, update

from telesip.domain.events import Event
from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

ALICE = TelegramUser(1001, "Alice", "alice", "en")  # administrator
BOB = TelegramUser(1002, "Bob", "bob", "en")  # employee
CAROL = TelegramUser(1003, "Carol", None, "ru")
DAVE = TelegramUser(1004, "Dave", "dave", "en")
PASSWORD = "s3cr3t-Pa55"


def sip(
    login: str = "100", password: str = PASSWORD, domain: str = "pbx.example.com", **kw: object
) -> AccountSettings:
    return AccountSettings(login=login, password=Secret(password), domain=domain, **kw)  # type: ignore[arg-type]


class Recorder:
    """Collects published events, as the bot's notifier and the workers would receive them."""

    def __init__(self, deps: Dependencies) -> None:
        self.events: list[Event] = []
        deps.bus.subscribe(None, self._on)

    async def _on(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


@asynccontextmanager
async def two_enabled_copies(deps: Dependencies, copy: int) -> AsyncIterator[None]:
    """Inside: account ``copy`` enabled next to an enabled copy of its line, a state the
    database refuses since acc_0001 (rows from before it); the workers' backstop must still
    register one. The index is dropped for it and made again on the way out (on PostgreSQL the
    database is shared by the session's tests), the copy disabled first."""
    async with deps.engine.begin() as conn:
        await conn.execute(text("DROP INDEX ux_accounts_line_enabled"))
        await conn.execute(update(t.accounts).where(t.accounts.c.id == copy).values(enabled=True))
    try:
        yield
    finally:
        async with deps.engine.begin() as conn:
            await conn.execute(
                update(t.accounts).where(t.accounts.c.id == copy).values(enabled=False)
            )
            await conn.execute(
                text(
                    "CREATE UNIQUE INDEX ux_accounts_line_enabled"
                    " ON accounts (identity) WHERE enabled"
                )
            )
