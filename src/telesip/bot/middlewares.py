"""Outer middlewares: who is acting (as a domain ``TelegramUser``), in which language, and
how long each update took (Prometheus metrics).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User

from telesip.bot.limiter import handling_update
from telesip.bot.locales import lang_of
from telesip.domain.model import TelegramUser
from telesip.metrics import BOT_UPDATE_SECONDS, BOT_UPDATES

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def actor_of(user: User) -> TelegramUser:
    return TelegramUser(
        id=user.id,
        first_name=user.first_name,
        username=user.username,
        language_code=user.language_code,
    )


class ContextMiddleware(BaseMiddleware):
    """Adds ``actor`` (TelegramUser or None) and ``lang`` ("en"/"ru") to the handler data."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        data["actor"] = actor_of(user) if user is not None else None
        data["lang"] = lang_of(user.language_code if user is not None else None)
        return await handler(event, data)


class MetricsMiddleware(BaseMiddleware):
    """Counts updates by kind and observes their handling time (the update's outer scope)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        started = time.perf_counter()
        try:
            with handling_update():  # bounds the limiter's waits inside handlers
                return await handler(event, data)
        finally:
            BOT_UPDATES.labels(kind).inc()
            BOT_UPDATE_SECONDS.labels(kind).observe(time.perf_counter() - started)
