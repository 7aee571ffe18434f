"""Where the bot's pacing budget is shared: Redis (TELESIP_REDIS_URL) through the store's
script runner, so the bot, which speaks to services only, never imports a storage client."""

from __future__ import annotations

from telesip import extras
from telesip.store.redis_scripts import RedisScripts


def shared_scripts(redis_url: str) -> RedisScripts:
    extras.require("redis", "TELESIP_REDIS_URL")
    return RedisScripts.from_url(redis_url)
