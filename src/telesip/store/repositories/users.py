"""Telegram users and their subscriptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.model import Payer, TelegramUser
from telesip.domain.plans import Entitlements, Subscription
from telesip.store import tables

_SUBSCRIPTIONS = (
    select(tables.subscriptions)
    .where(tables.subscriptions.c.user_id == bindparam("b_user"))
    .order_by(tables.subscriptions.c.id)
)
_ENSURE_USER = {
    name: dialect.insert(tables.users)
    .on_conflict_do_nothing(index_elements=["id"])
    .returning(tables.users.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


class Users:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def ensure(
        self, user: TelegramUser, now: datetime, default_plan: str, seats: int | None
    ) -> bool:
        """Insert the user if new (with the default plan); True when it was new."""
        values = {
            "id": user.id,
            "first_name": user.first_name[:128],
            "username": user.username,
            "language_code": user.language_code,
            "created_at": now,
        }
        stmt = _ENSURE_USER[self.conn.dialect.name]
        inserted = (await self.conn.execute(stmt, values)).first() is not None
        if inserted:
            await self.conn.execute(
                insert(tables.subscriptions).values(
                    user_id=user.id, plan=default_plan, seats=seats, created_at=now
                )
            )
        return inserted

    async def get(self, user_id: int) -> TelegramUser | None:
        row = (
            await self.conn.execute(select(tables.users).where(tables.users.c.id == user_id))
        ).first()
        if row is None:
            return None
        return TelegramUser(row.id, row.first_name, row.username, row.language_code)

    async def known(self, ids: set[int], usernames: set[str]) -> dict[int | str, int]:
        """Which of these users have started the bot: a numeric id -> itself, an ``@username``
        (lower case) -> its user's id."""
        found: dict[int | str, int] = {}
        u = tables.users
        id_list = sorted(ids)
        for start in range(0, len(id_list), 500):
            rows = await self.conn.execute(
                select(u.c.id).where(u.c.id.in_(id_list[start : start + 500]))
            )
            found.update({r.id: r.id for r in rows})
        names = sorted(n.lstrip("@").lower() for n in usernames)
        for start in range(0, len(names), 500):
            part = names[start : start + 500]
            rows = await self.conn.execute(
                select(u.c.id, u.c.username).where(func.lower(u.c.username).in_(part))
            )
            found.update({"@" + r.username.lower(): r.id for r in rows})
        return found

    async def lock(self, user_id: int) -> None:
        await self.conn.execute(
            select(tables.users.c.id)
            .where(tables.users.c.id == user_id)
            .with_for_update(key_share=True)
        )

    async def subscriptions(self, user_id: int) -> list[Subscription]:
        rows = await self.conn.execute(_SUBSCRIPTIONS, {"b_user": user_id})
        return [Subscription(r.id, r.user_id, r.plan, r.seats) for r in rows]

    async def usage(self, owner_id: int) -> dict[Payer, int]:
        rows = await self.conn.execute(
            select(tables.accounts.c.payer, func.count())
            .where(tables.accounts.c.owner_id == owner_id)
            .group_by(tables.accounts.c.payer)
        )
        return {Payer(payer): count for payer, count in rows}

    async def entitlements(self, user_id: int, *, lock: bool = True) -> Entitlements:
        """The user's plans and usage, to decide on a seat (``lock``) or to show them.

        Deciding needs the usage only where a limit is a positive number; then the user's row
        is locked first, so two concurrent operations cannot both take the last seat. With
        unlimited plans (the default office plan) there is nothing to count or to lock: usage
        reads as 0.
        """
        subs = await self.subscriptions(user_id)
        ent = Entitlements.of(subs, 0, 0)
        if lock and not ent.counts_usage:
            return ent  # each limit is unlimited (None) or nothing (0): usage cannot matter
        if lock:
            await self.lock(user_id)
        usage = await self.usage(user_id)
        return Entitlements.of(subs, usage.get(Payer.OWNER_PLAN, 0), usage.get(Payer.START, 0))

    async def set_subscription(
        self, user_id: int, plan: str, seats: int | None, now: datetime
    ) -> None:
        """One subscription per plan: replace that plan's seats, keep the others."""
        await self.conn.execute(
            delete(tables.subscriptions).where(
                tables.subscriptions.c.user_id == user_id, tables.subscriptions.c.plan == plan
            )
        )
        await self.conn.execute(
            insert(tables.subscriptions).values(
                user_id=user_id, plan=plan, seats=seats, created_at=now
            )
        )

    async def clear_subscriptions(self, user_id: int) -> None:
        await self.conn.execute(
            delete(tables.subscriptions).where(tables.subscriptions.c.user_id == user_id)
        )

    async def remove_subscription(self, user_id: int, plan: str) -> int:
        result = await self.conn.execute(
            delete(tables.subscriptions).where(
                tables.subscriptions.c.user_id == user_id, tables.subscriptions.c.plan == plan
            )
        )
        return result.rowcount
