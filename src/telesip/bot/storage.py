"""Where conversations (aiogram FSM state and data) live: Redis when TELESIP_REDIS_URL is set
(several bot processes), else the service's own database (the single-box install).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StorageKey

from telesip import extras
from telesip.services import conversations
from telesip.services.dependencies import Dependencies

StateType = str | State | None


class DatabaseStorage(BaseStorage):
    """FSM storage in the ``bot_fsm`` table; a row disappears when state and data are empty.

    aiogram reads the state of every update, so rows are cached in memory (write-through, the
    last ``cache_size`` conversations): one bot process owns the table, which is the
    single-box install this storage is for; several bot processes use Redis instead. A
    database that is away raises ``StorageUnavailable``.
    """

    def __init__(self, services: Dependencies, cache_size: int = 10_000) -> None:
        self.services = services
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
        value = await conversations.load(self.services, name)
        self._remember(name, value)
        return value[0], dict(value[1])

    async def _write(self, key: StorageKey, **values: Any) -> None:
        name = self.keys.build(key)
        self.cache.pop(name, None)  # re-filled once the write has committed
        self._remember(name, await conversations.save(self.services, name, **values))

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


def make_storage(services: Dependencies, redis_url: str | None) -> BaseStorage:
    if redis_url:
        extras.require("redis", "TELESIP_REDIS_URL")
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url, state_ttl=86400, data_ttl=86400)
    return DatabaseStorage(services)
