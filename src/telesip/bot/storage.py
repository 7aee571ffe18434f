"""Where conversations (aiogram FSM state and data) live: Redis when TELESIP_REDIS_URL is set
(several bot processes), else the service's own database (the single-box install).
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from telesip import extras
from telesip.domain.clock import Clock, SystemClock
from telesip.domain.errors import StorageUnavailable
from telesip.store import tables as t

StateType = str | State | None


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    """The database away (restarting): the person is told to try again in a moment, as for
    any other unreachable-database error, not given the generic apology."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        raise StorageUnavailable() from exc


class DatabaseStorage(BaseStorage):
    """FSM storage in the ``bot_fsm`` table; a row disappears when state and data are empty.

    aiogram reads the state of every update, so rows are cached in memory (write-through, the
    last ``cache_size`` conversations): one bot process owns the table, which is the
    single-box install this storage is for; several bot processes use Redis instead.
    """

    def __init__(
        self, engine: AsyncEngine, clock: Clock | None = None, cache_size: int = 10_000
    ) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()
        self.keys = DefaultKeyBuilder(with_destiny=True, with_business_connection_id=True)
        self.cache: OrderedDict[str, tuple[str | None, dict[str, Any]]] = OrderedDict()
        self.cache_size = cache_size

    def _remember(self, name: str, value: tuple[str | None, dict[str, Any]]) -> None:
        self.cache[name] = value
        self.cache.move_to_end(name)
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    async def _row(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        name = self.keys.build(key)
        cached = self.cache.get(name)
        if cached is not None:
            return cached[0], dict(cached[1])
        with _unavailable():
            row = await self._read(name)
        value = (None, {}) if row is None else (row.state, dict(row.data or {}))
        self._remember(name, value)
        return value[0], dict(value[1])

    async def _read(self, name: str) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    select(t.bot_fsm.c.state, t.bot_fsm.c.data).where(t.bot_fsm.c.key == name)
                )
            ).first()

    async def _write(self, key: StorageKey, **values: Any) -> None:
        with _unavailable():
            await self._write_row(key, **values)

    async def _write_row(self, key: StorageKey, **values: Any) -> None:
        name = self.keys.build(key)
        async with self.engine.begin() as conn:
            state, data = values.get("state"), values.get("data")
            if "state" not in values or "data" not in values:
                row = (
                    await conn.execute(
                        select(t.bot_fsm.c.state, t.bot_fsm.c.data).where(t.bot_fsm.c.key == name)
                    )
                ).first()
                if "state" not in values:
                    state = row.state if row else None
                if "data" not in values:
                    data = dict(row.data) if row else {}
            self.cache.pop(name, None)  # re-filled after the write commits
            if state is None and not data:
                await conn.execute(delete(t.bot_fsm).where(t.bot_fsm.c.key == name))
            else:
                insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                row_values = {"state": state, "data": data or {}, "updated_at": self.clock.now()}
                await conn.execute(
                    insert(t.bot_fsm)
                    .values(key=name, **row_values)
                    .on_conflict_do_update(index_elements=["key"], set_=row_values)
                )
        self._remember(name, (state, dict(data or {})))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._write(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        return (await self._row(key))[0]

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        return (await self._row(key))[1]

    async def close(self) -> None:
        """The engine belongs to the service; nothing to close here."""


def make_storage(engine: AsyncEngine, redis_url: str | None) -> BaseStorage:
    if redis_url:
        extras.require("redis", "TELESIP_REDIS_URL")
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url, state_ttl=86400, data_ttl=86400)
    return DatabaseStorage(engine)
