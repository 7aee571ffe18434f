"""Counts of stored state for the operator's gauges (``/metrics``): each one grouped query,
read per scrape."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.store import tables
from telesip.store.repositories.common import PENDING


class Stats:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def accounts_by_reg_state(self) -> dict[str, int]:
        a = tables.accounts
        rows = await self.conn.execute(select(a.c.reg_state, func.count()).group_by(a.c.reg_state))
        return {state: count for state, count in rows}

    async def accounts_by_payer(self) -> dict[str, int]:
        a = tables.accounts
        rows = await self.conn.execute(select(a.c.payer, func.count()).group_by(a.c.payer))
        return {payer: count for payer, count in rows}

    async def pending_offers(self, now: datetime) -> int:
        """Offers waiting for Receive that have not expired."""
        n = await self.conn.scalar(
            select(func.count()).where(
                tables.offers.c.state == PENDING, tables.offers.c.expires_at > now
            )
        )
        return int(n or 0)
