"""The bot's conversations (aiogram FSM state and data, table ``bot_fsm``), one row per
conversation key; a row disappears when its state and data are empty.

A database that is away (restarting) raises ``StorageUnavailable`` here, at the store's edge,
whether the driver said so with a DBAPIError or an OSError: the person is told to try again in
a moment, as for any other unreachable-database error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.errors import StorageUnavailable
from telesip.store import tables
from telesip.store.repositories.common import dialect_insert


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (DBAPIError, OSError) as exc:
        raise StorageUnavailable() from exc


class Conversations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, key: str) -> tuple[str | None, dict[str, Any]] | None:
        """The conversation's state and data, or None when there is none."""
        with _unavailable():
            row = (
                await self.conn.execute(
                    select(tables.bot_fsm.c.state, tables.bot_fsm.c.data).where(
                        tables.bot_fsm.c.key == key
                    )
                )
            ).first()
        return None if row is None else (row.state, dict(row.data or {}))

    async def put(self, key: str, state: str | None, data: dict[str, Any], now: datetime) -> None:
        """Store the conversation, or delete its row when state and data are empty."""
        with _unavailable():
            if state is None and not data:
                await self.conn.execute(delete(tables.bot_fsm).where(tables.bot_fsm.c.key == key))
                return
            insert = dialect_insert(self.conn, tables.bot_fsm)
            values = {"state": state, "data": data or {}, "updated_at": now}
            await self.conn.execute(
                insert.values(key=key, **values).on_conflict_do_update(
                    index_elements=["key"], set_=values
                )
            )
