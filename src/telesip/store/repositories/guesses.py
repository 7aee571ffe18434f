"""Password-guess throttling state per user and account."""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.guessing import GuessState
from telesip.store import tables
from telesip.store.repositories.common import dialect_insert

_GUESS = select(tables.guesses).where(
    tables.guesses.c.user_id == bindparam("b_user"),
    tables.guesses.c.account_id == bindparam("b_account"),
)


class Guesses:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, user_id: int, account_id: int) -> GuessState | None:
        row = (
            await self.conn.execute(_GUESS, {"b_user": user_id, "b_account": account_id})
        ).first()
        if row is None:
            return None
        return GuessState(
            window_start=row.window_start,
            failures=row.failures,
            free_steps=row.free_steps,
            last_hash=row.last_hash,
            last_prefix_hash=row.last_prefix_hash,
            locked_until=row.locked_until,
        )

    async def save(self, user_id: int, account_id: int, state: GuessState) -> None:
        values = {
            "window_start": state.window_start,
            "failures": state.failures,
            "free_steps": state.free_steps,
            "last_hash": state.last_hash,
            "last_prefix_hash": state.last_prefix_hash,
            "locked_until": state.locked_until,
        }
        stmt = dialect_insert(self.conn, tables.guesses).values(
            user_id=user_id, account_id=account_id, **values
        )
        await self.conn.execute(
            stmt.on_conflict_do_update(index_elements=["user_id", "account_id"], set_=values)
        )

    async def clear(self, user_id: int, account_id: int) -> None:
        await self.conn.execute(
            delete(tables.guesses).where(
                tables.guesses.c.user_id == user_id, tables.guesses.c.account_id == account_id
            )
        )
