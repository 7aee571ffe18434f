"""Operators' API keys: stored by the SHA-256 hash of the key only (the services hash it);
read back as ``ApiKey`` (without the hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.operators import ApiKey, Scope
from telesip.store import tables


def _api_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        operator=row.operator,
        name=row.name,
        prefix=row.prefix,
        scope=Scope.from_json(row.scope),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        *,
        operator: str,
        name: str,
        prefix: str,
        key_hash: str,
        scope: dict[str, Any],
        now: datetime,
    ) -> ApiKey:
        """Insert a key; returns it."""
        result = await self.conn.execute(
            insert(tables.api_keys)
            .values(
                operator=operator,
                name=name,
                prefix=prefix,
                key_hash=key_hash,
                scope=scope,
                created_at=now,
            )
            .returning(tables.api_keys)
        )
        return _api_key(result.one())

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        row = (
            await self.conn.execute(
                select(tables.api_keys).where(tables.api_keys.c.key_hash == key_hash)
            )
        ).first()
        return None if row is None else _api_key(row)

    async def touch(self, key_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(tables.api_keys).where(tables.api_keys.c.id == key_id).values(last_used_at=now)
        )

    async def listing(self, operator: str | None = None) -> list[ApiKey]:
        stmt = select(tables.api_keys).order_by(tables.api_keys.c.id)
        if operator is not None:
            stmt = stmt.where(tables.api_keys.c.operator == operator)
        return [_api_key(row) for row in await self.conn.execute(stmt)]

    async def revoke(self, key_id: int, now: datetime) -> bool:
        """Revoke a live key; False when there is none (unknown, or revoked already)."""
        result = await self.conn.execute(
            update(tables.api_keys)
            .where(tables.api_keys.c.id == key_id, tables.api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    async def exists(self, key_id: int) -> bool:
        found = await self.conn.scalar(
            select(tables.api_keys.c.id).where(tables.api_keys.c.id == key_id)
        )
        return found is not None
