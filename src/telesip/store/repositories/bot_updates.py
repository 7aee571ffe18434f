"""The bot's update journal (``bot_updates``): an update is kept from the moment Telegram is
answered until its handler ends, sealed (an update may carry a password typed in a wizard)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.store import tables
from telesip.store.crypto import Cipher
from telesip.store.repositories.common import dialect_insert

# a batch in one statement: SQLAlchemy sends the rows as one multi-row INSERT ("insert many
# values"), compiled once, and returns the ids of the rows inserted
_KEEP_MANY = {
    name: dialect.insert(tables.bot_updates)
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(tables.bot_updates.c.update_id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class BotUpdates:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    async def keep(
        self, update_id: int, update: dict[str, Any], holder: str, now: datetime
    ) -> bool:
        """Journal an update for ``holder``; False when it is there already (Telegram sent it
        again): its first copy is handled, this one is not."""
        b = tables.bot_updates
        sealed = self.cipher.seal(json.dumps(update, separators=(",", ":")).encode())
        row = {"update_id": update_id, "payload": sealed, "holder": holder}
        inserted = await self.conn.execute(
            dialect_insert(self.conn, b)
            .values(**row, received_at=now, held_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
        )
        return inserted.rowcount == 1

    async def keep_many(
        self, updates: list[tuple[int, bytes]], holder: str, now: datetime
    ) -> set[int]:
        """Journal a batch of updates (``(update_id, the update as JSON)``) for ``holder`` in
        one statement; the ids journaled now (the others were there already: Telegram sent
        them again)."""
        if not updates:
            return set()
        seal = self.cipher.seal
        rows = [
            {
                "update_id": update_id,
                "payload": seal(update),
                "holder": holder,
                "received_at": now,
                "held_at": now,
            }
            for update_id, update in updates
        ]
        inserted = await self.conn.execute(_KEEP_MANY[self.conn.dialect.name], rows)
        return {int(r[0]) for r in inserted}

    async def done(self, update_id: int) -> None:
        b = tables.bot_updates
        await self.conn.execute(delete(b).where(b.c.update_id == update_id))

    async def done_many(self, update_ids: list[int]) -> None:
        b = tables.bot_updates
        for start in range(0, len(update_ids), 500):  # a bounded number of parameters each
            part = update_ids[start : start + 500]
            await self.conn.execute(delete(b).where(b.c.update_id.in_(part)))

    async def touch(self, holder: str, now: datetime) -> None:
        """``holder`` is alive: its rows are not left behind."""
        b = tables.bot_updates
        await self.conn.execute(update(b).where(b.c.holder == holder).values(held_at=now))

    async def take_over(
        self, holder: str, left_before: datetime, now: datetime, limit: int
    ) -> list[dict[str, Any]]:
        """Rows whose holder gave no sign of life since ``left_before`` (it died), oldest first,
        now held by ``holder``; each row is taken by one process only (the UPDATE re-checks)."""
        b = tables.bot_updates
        found = await self.conn.execute(
            select(b.c.update_id)
            .where(b.c.held_at < left_before)
            .order_by(b.c.update_id)
            .limit(limit)
        )
        taken: list[dict[str, Any]] = []
        for (update_id,) in found.all():
            moved = await self.conn.execute(
                update(b)
                .where(b.c.update_id == update_id, b.c.held_at < left_before)
                .values(holder=holder, held_at=now)
                .returning(b.c.payload)
            )
            row = moved.first()
            if row is not None:
                taken.append(json.loads(self.cipher.unseal(row.payload)))
        return taken
