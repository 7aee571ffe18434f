"""Settings links: one-time tokens that hand an account's settings over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.model import SettingsLink
from telesip.store import tables
from telesip.store.rows import link_from_row

# the statements of a new link and of the links list, built once (see repositories/common.py)
_L = tables.links
_ADD = insert(_L).returning(_L.c.id)
_OF_OWNER = select(_L).where(_L.c.owner_id == bindparam("b_owner")).order_by(_L.c.id)
_REVOKE_UNUSED = (
    update(_L)
    .where(
        _L.c.account_id == bindparam("b_account"),
        _L.c.used_by.is_(None),
        _L.c.revoked_at.is_(None),
    )
    .values(revoked_at=bindparam("b_now"))
)


class Links:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, link: SettingsLink) -> int:
        result = await self.conn.execute(
            _ADD,
            {
                "token": link.token,
                "account_id": link.account_id,
                "owner_id": link.owner_id,
                "created_at": link.created_at,
                "expires_at": link.expires_at,
            },
        )
        return int(result.scalar_one())

    async def by_token(self, token: str) -> SettingsLink | None:
        row = (
            await self.conn.execute(select(tables.links).where(tables.links.c.token == token))
        ).first()
        return link_from_row(row) if row else None

    async def get(self, link_id: int) -> SettingsLink | None:
        row = (
            await self.conn.execute(select(tables.links).where(tables.links.c.id == link_id))
        ).first()
        return link_from_row(row) if row else None

    async def of_owner(self, owner_id: int) -> list[SettingsLink]:
        rows = await self.conn.execute(_OF_OWNER, {"b_owner": owner_id})
        return [link_from_row(r) for r in rows]

    async def mark_used(self, link_id: int, user_id: int, now: datetime) -> bool:
        result = await self.conn.execute(
            update(tables.links)
            .where(
                tables.links.c.id == link_id,
                tables.links.c.used_by.is_(None),
                tables.links.c.revoked_at.is_(None),
                tables.links.c.expires_at > now,
            )
            .values(used_by=user_id, used_at=now)
        )
        return result.rowcount == 1

    async def revoke(self, link_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(tables.links)
            .where(tables.links.c.id == link_id, tables.links.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    async def revoke_unused_for(self, account_id: int, now: datetime) -> None:
        await self.conn.execute(_REVOKE_UNUSED, {"b_account": account_id, "b_now": now})
