"""Caller accounts' public identity (table ``telegram_callers``): written by the login and by
the worker that connects an account, read by the bot (maybe another process) to tell people
which account will call them. Core statements on the unit of work's connection.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.callers import CallerInfo
from telesip.store import tables


class Callers:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def put(self, caller: CallerInfo, now: datetime, worker_id: int | None = None) -> None:
        """Insert or refresh the row of ``caller.id``. A remote worker (``worker_id``) refreshes
        only a row of its own: it cannot rename the service's accounts or another worker's."""
        insert = postgresql.insert if self.conn.dialect.name == "postgresql" else sqlite.insert
        values = {
            "name": caller.name,
            "username": caller.username,
            "phone": caller.phone,
            "updated_at": now,
        }
        c = tables.telegram_callers.c
        stmt = insert(tables.telegram_callers).values(id=caller.id, worker_id=worker_id, **values)
        if worker_id is None:
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"], set_={**values, "worker_id": None}
            )
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["id"], set_=values, where=c.worker_id == worker_id
            )
        await self.conn.execute(stmt)

    async def remove(self, caller_id: int, worker_id: int | None = None) -> bool:
        """Forget ``caller_id``; a remote worker (``worker_id``) only one of its own."""
        c = tables.telegram_callers.c
        stmt = delete(tables.telegram_callers).where(c.id == caller_id)
        if worker_id is not None:
            stmt = stmt.where(c.worker_id == worker_id)
        result = await self.conn.execute(stmt)
        return bool(result.rowcount)

    async def all(self) -> list[CallerInfo]:
        c = tables.telegram_callers.c
        rows = await self.conn.execute(select(tables.telegram_callers).order_by(c.updated_at, c.id))
        return [
            CallerInfo(
                id=r.id,
                name=r.name,
                username=r.username,
                phone=r.phone,
                updated_at=r.updated_at,
            )
            for r in rows
        ]
