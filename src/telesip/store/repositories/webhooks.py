"""Webhooks, their delivery log and the fan-out cursor (the last audit record turned into
deliveries), read back as ``Webhook``, ``Delivery`` and ``DueDelivery`` (its secret decrypted).
Due deliveries are taken ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
processes never send the same one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.operators import Scope
from telesip.domain.readmodels import Delivery, DueDelivery, Webhook
from telesip.store import tables
from telesip.store.crypto import Cipher

CURSOR = "webhooks"


def _webhook(row: Any) -> Webhook:
    return Webhook(
        row.id,
        row.operator,
        row.url,
        tuple(row.events),
        row.enabled,
        row.created_at,
        Scope.from_json(row.scope),
        row.since_audit_id,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        delivery_id=row.delivery_id,
        event=row.event,
        account_id=row.payload.get("account_id"),
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class Webhooks:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    async def count_of(self, operator: str) -> int:
        n = await self.conn.scalar(
            select(func.count()).where(tables.webhooks.c.operator == operator)
        )
        return int(n or 0)

    async def add(self, values: dict[str, Any]) -> Webhook:
        """Insert a webhook; returns it."""
        result = await self.conn.execute(
            insert(tables.webhooks).values(values).returning(tables.webhooks)
        )
        return _webhook(result.one())

    async def of_operator(self, operator: str) -> list[Webhook]:
        rows = await self.conn.execute(
            select(tables.webhooks)
            .where(tables.webhooks.c.operator == operator)
            .order_by(tables.webhooks.c.id)
        )
        return [_webhook(row) for row in rows]

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

    async def enabled(self) -> list[Webhook]:
        rows = await self.conn.execute(select(tables.webhooks).where(tables.webhooks.c.enabled))
        return [_webhook(row) for row in rows]

    async def deliveries(
        self, webhook_id: int, *, limit: int, before_id: int | None
    ) -> list[Delivery]:
        """One webhook's delivery log, newest first, keyset-paged."""
        d = tables.webhook_deliveries
        stmt = select(d).where(d.c.webhook_id == webhook_id)
        if before_id is not None:
            stmt = stmt.where(d.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(d.c.id.desc()).limit(limit))
        return [_delivery(row) for row in rows]

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

    async def take_due(self, now: datetime, limit: int, lease_until: datetime) -> list[DueDelivery]:
        """Up to ``limit`` due deliveries of enabled webhooks (with the webhook's url and
        secret), leased until ``lease_until`` with their attempt counted."""
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
        return [
            DueDelivery(
                id=r.id,
                delivery_id=r.delivery_id,
                event=r.event,
                attempt=r.attempts + 1,
                url=r.url,
                secret=self.cipher.decrypt(r.secret_enc),
                payload=r.payload,
            )
            for r in rows
        ]

    async def record_attempt(self, delivery_id: int, values: dict[str, Any]) -> None:
        d = tables.webhook_deliveries
        await self.conn.execute(update(d).where(d.c.id == delivery_id).values(**values))

    async def delivery_counts(self) -> dict[str, int]:
        d = tables.webhook_deliveries
        rows = await self.conn.execute(select(d.c.state, func.count()).group_by(d.c.state))
        return {state: count for state, count in rows}
