"""Lua scripts run on Redis, for state that several processes share and that needs no
database: the bot's pacing budget (bot/budget.py). A script is loaded once and then called by
its hash; an answer of None means Redis did not answer (the caller goes on without it)."""

from __future__ import annotations

from typing import Any


class RedisScripts:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self.last_error: BaseException | None = None  # why the last call got no answer
        self._loaded: dict[str, Any] = {}

    @classmethod
    def from_url(cls, url: str) -> RedisScripts:
        from redis.asyncio import Redis

        return cls(Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0))

    async def run(self, script: str, keys: list[str], args: list[Any]) -> Any | None:
        """The script's answer, or None while Redis does not answer (``last_error`` says why)."""
        from redis.exceptions import RedisError

        loaded = self._loaded.get(script)
        if loaded is None:
            loaded = self._loaded[script] = self.redis.register_script(script)
        try:
            answer = await loaded(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self.last_error = exc
            return None
        self.last_error = None
        return answer

    async def close(self) -> None:
        await self.redis.aclose()
