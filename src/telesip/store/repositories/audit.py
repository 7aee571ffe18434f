"""The audit trail: records written by the use cases, read back per account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.readmodels import AuditRecord
from telesip.store import tables

_AUDIT_ADD = insert(tables.audit)


class Audit:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        at: datetime,
        actor_id: int | None,
        account_id: int | None,
        action: str,
        details: dict[str, Any],
    ) -> None:
        await self.conn.execute(
            _AUDIT_ADD,
            {
                "at": at,
                "actor_id": actor_id,
                "account_id": account_id,
                "action": action,
                "details": details,
            },
        )

    async def add_many(self, records: list[dict[str, Any]]) -> None:
        """Many records in one statement (at, actor_id, account_id, action, details each)."""
        if records:
            await self.conn.execute(_AUDIT_ADD, records)

    async def of_account(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[AuditRecord]:
        stmt = select(tables.audit).where(tables.audit.c.account_id == account_id)
        if before_id is not None:
            stmt = stmt.where(tables.audit.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(tables.audit.c.id.desc()).limit(limit))
        return [
            AuditRecord(r.id, r.at, r.actor_id, r.account_id, r.action, r.details) for r in rows
        ]

    async def last_id(self) -> int:
        """The newest record's id (0 when there is none)."""
        return int(
            await self.conn.scalar(select(func.coalesce(func.max(tables.audit.c.id), 0))) or 0
        )

    async def after(self, audit_id: int, limit: int) -> list[AuditRecord]:
        """The records after ``audit_id``, oldest first."""
        a = tables.audit
        rows = await self.conn.execute(
            select(a.c.id, a.c.at, a.c.actor_id, a.c.account_id, a.c.action, a.c.details)
            .where(a.c.id > audit_id)
            .order_by(a.c.id)
            .limit(limit)
        )
        return [AuditRecord(*r) for r in rows]
