"""Files waiting for their Import press (``pending_imports``): one per chat, the content
compressed and encrypted here (it holds passwords), never readable from the table alone."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.store import tables
from telesip.store.crypto import Cipher


@dataclass(frozen=True)
class PendingImport:
    chat_id: int
    user_id: int
    filename: str | None
    server: str | None
    content: bytes = field(repr=False)  # the file as sent
    expires_at: datetime | None = None


class PendingImports:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    async def put(self, pending: PendingImport, now: datetime, expires_at: datetime) -> None:
        """Keep ``pending`` for its chat, replacing the chat's earlier one."""
        await self.drop(pending.chat_id)
        sealed = self.cipher.seal(zlib.compress(pending.content, 6))
        await self.conn.execute(
            insert(tables.pending_imports).values(
                chat_id=pending.chat_id,
                user_id=pending.user_id,
                filename=pending.filename,
                server=pending.server,
                content=sealed,
                created_at=now,
                expires_at=expires_at,
            )
        )

    async def get(self, chat_id: int) -> PendingImport | None:
        p = tables.pending_imports
        row = (await self.conn.execute(select(p).where(p.c.chat_id == chat_id))).first()
        if row is None:
            return None
        content = zlib.decompress(self.cipher.unseal(row.content))
        return PendingImport(
            row.chat_id, row.user_id, row.filename, row.server, content, row.expires_at
        )

    async def drop(self, chat_id: int, *, created_before: datetime | None = None) -> bool:
        """Forget the chat's pending file; True when there was one (a press takes it once)."""
        p = tables.pending_imports
        stmt = delete(p).where(p.c.chat_id == chat_id)
        if created_before is not None:
            stmt = stmt.where(p.c.created_at <= created_before)
        return (await self.conn.execute(stmt)).rowcount == 1

    async def drop_expired(self, now: datetime) -> int:
        p = tables.pending_imports
        return (await self.conn.execute(delete(p).where(p.c.expires_at <= now))).rowcount
