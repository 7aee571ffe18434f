"""Webhooks, their delivery log and the fan-out cursor (the last audit record turned into
deliveries). Rows are returned as they are; the services turn them into ``Webhook`` and
``Delivery``. Due deliveries are taken ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
processes never send the same one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.store import tables

CURSOR = "webhooks"


class Webhooks:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def count_of(self, operator: str) -> int:
        n = await self.conn.scalar(
            select(func.count()).where(tables.webhooks.c.operator == operator)
        )
        return int(n or 0)

    async def add(self, values: dict[str, Any]) -> Any:
        """Insert a webhook; returns its row."""
        result = await self.conn.execute(
            insert(tables.webhooks).values(values).returning(tables.webhooks)
        )
        return result.one()

    async def of_operator(self, operator: str) -> list[Any]:
        return list(
            await self.conn.execute(
                select(tables.webhooks)
                .where(tables.webhooks.c.operator == operator)
                .order_by(tables.webhooks.c.id)
            )
        )

    async def delete(self, webhook_id: int, operator: str) -> bool:
        result = await self.conn.execute(
            tables.webhooks.delete().where(
                tables.webhooks.c.id == webhook_id, tables.webhooks.c.operator == operator
            )
        )
        return result.rowcount == 1

    async def operator_of(self, webhook_id: int) -> str | None:
        return await self.conn.scalar(
            select(tables.webhooks.c.operator).where(tables.webhooks.c.id == webhook_id)
        )

    async def enabled(self) -> list[Any]:
        return list(
            (
                await self.conn.execute(select(tables.webhooks).where(tables.webhooks.c.enabled))
            ).all()
        )

    async def deliveries(self, webhook_id: int, *, limit: int, before_id: int | None) -> list[Any]:
        """One webhook's delivery log, newest first, keyset-paged."""
        d = tables.webhook_deliveries
        stmt = select(d).where(d.c.webhook_id == webhook_id)
        if before_id is not None:
            stmt = stmt.where(d.c.id < before_id)
        return list(await self.conn.execute(stmt.order_by(d.c.id.desc()).limit(limit)))

    async def cursor(self) -> int | None:
        """The fan-out cursor, locked; None when its row is missing."""
        return await self.conn.scalar(
            select(tables.webhook_cursor.c.audit_id)
            .where(tables.webhook_cursor.c.name == CURSOR)
            .with_for_update()
        )

    async def add_cursor(self) -> None:
        await self.conn.execute(insert(tables.webhook_cursor).values(name=CURSOR, audit_id=0))

    async def move_cursor(self, audit_id: int) -> None:
        await self.conn.execute(
            update(tables.webhook_cursor)
            .where(tables.webhook_cursor.c.name == CURSOR)
            .values(audit_id=audit_id)
        )

    async def add_delivery(self, values: dict[str, Any]) -> None:
        await self.conn.execute(insert(tables.webhook_deliveries).values(values))

    async def take_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Any]:
        """Up to ``limit`` due deliveries of enabled webhooks (with the webhook's url and
        encrypted secret), leased until ``lease_until`` with their attempt counted."""
        d = tables.webhook_deliveries
        stmt = (
            select(d, tables.webhooks.c.url, tables.webhooks.c.secret_enc)
            .join(tables.webhooks, tables.webhooks.c.id == d.c.webhook_id)
            .where(d.c.state == "pending", d.c.next_attempt_at <= now, tables.webhooks.c.enabled)
            .order_by(d.c.next_attempt_at, d.c.id)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=d, skip_locked=True)
        rows = list((await self.conn.execute(stmt)).all())
        if rows:
            await self.conn.execute(
                update(d)
                .where(d.c.id.in_([r.id for r in rows]))
                .values(attempts=d.c.attempts + 1, next_attempt_at=lease_until)
            )
        return rows

    async def record_attempt(self, delivery_id: int, values: dict[str, Any]) -> None:
        d = tables.webhook_deliveries
        await self.conn.execute(update(d).where(d.c.id == delivery_id).values(**values))

    async def delivery_counts(self) -> dict[str, int]:
        d = tables.webhook_deliveries
        rows = await self.conn.execute(select(d.c.state, func.count()).group_by(d.c.state))
        return {state: count for state, count in rows}
