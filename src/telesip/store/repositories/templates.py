"""Templates that operators and users add (the built-in ones are a data file, not rows), read
back as ``Template``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.templates import FIELDS, Template
from telesip.store import tables


def _template(row: Any) -> Template:
    data = dict(row.data)
    return Template(
        id=str(row.id),
        name=row.name,
        kind="custom",
        domain=data.pop("domain", None),
        builtin=False,
        operator=row.operator,
        user_id=row.user_id,
        **{k: v for k, v in data.items() if k in FIELDS},
    )


def _owner(operator: str | None, user_id: int | None) -> ColumnElement[bool]:
    return (
        tables.templates.c.operator == operator
        if operator
        else tables.templates.c.user_id == user_id
    )


class Templates:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def listing(self, *, operator: str | None, user_id: int | None) -> list[Template]:
        """The operators' own (only ``operator``'s when given), then ``user_id``'s own."""
        stmt = select(tables.templates).order_by(tables.templates.c.id)
        own: ColumnElement[bool] = tables.templates.c.operator.is_not(None)
        if operator is not None:
            own = tables.templates.c.operator == operator
        stmt = stmt.where(
            or_(own, tables.templates.c.user_id == user_id) if user_id is not None else own
        )
        return [_template(row) for row in await self.conn.execute(stmt)]

    async def get(self, template_id: int) -> Template | None:
        row = (
            await self.conn.execute(
                select(tables.templates).where(tables.templates.c.id == template_id)
            )
        ).first()
        return None if row is None else _template(row)

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
