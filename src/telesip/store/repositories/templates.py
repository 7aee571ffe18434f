"""Templates that operators and users add (the built-in ones are a data file, not rows). Rows
are returned as they are; the services turn them into ``Template``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.store import tables


def _owner(operator: str | None, user_id: int | None) -> ColumnElement[bool]:
    return (
        tables.templates.c.operator == operator
        if operator
        else tables.templates.c.user_id == user_id
    )


class Templates:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def listing(self, *, operator: str | None, user_id: int | None) -> list[Any]:
        """The operators' own (only ``operator``'s when given), then ``user_id``'s own."""
        stmt = select(tables.templates).order_by(tables.templates.c.id)
        own: ColumnElement[bool] = tables.templates.c.operator.is_not(None)
        if operator is not None:
            own = tables.templates.c.operator == operator
        stmt = stmt.where(
            or_(own, tables.templates.c.user_id == user_id) if user_id is not None else own
        )
        return list((await self.conn.execute(stmt)).all())

    async def get(self, template_id: int) -> Any | None:
        return (
            await self.conn.execute(
                select(tables.templates).where(tables.templates.c.id == template_id)
            )
        ).first()

    async def count_of(self, *, operator: str | None, user_id: int | None) -> int:
        return int(
            await self.conn.scalar(select(func.count()).where(_owner(operator, user_id))) or 0
        )

    async def add(
        self,
        *,
        operator: str | None,
        user_id: int | None,
        name: str,
        data: dict[str, Any],
        now: datetime,
    ) -> int:
        result = await self.conn.execute(
            insert(tables.templates)
            .values(operator=operator, user_id=user_id, name=name, data=data, created_at=now)
            .returning(tables.templates.c.id)
        )
        return int(result.scalar_one())

    async def delete(self, template_id: int, *, operator: str | None, user_id: int | None) -> bool:
        """Delete one's own template; False when there is none of that id and owner."""
        result = await self.conn.execute(
            delete(tables.templates).where(
                tables.templates.c.id == template_id, _owner(operator, user_id)
            )
        )
        return result.rowcount == 1
