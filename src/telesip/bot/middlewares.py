"""Outer middlewares: who is acting (as a domain ``TelegramUser``, also put in the log
context), in which language, and how long each update took (Prometheus metrics); and
``Pulse``, the request middleware that tells /readyz whether the bot still gets its updates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import GetUpdates, Response, SetWebhook, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update, User

from telesip.bot.limiter import handling_update
from telesip.bot.locales import lang_of
from telesip.bot.setup import set_current_inline
from telesip.domain.model import TelegramUser
from telesip.logs import log_context
from telesip.metrics import BOT_UPDATE_SECONDS, BOT_UPDATES

log = logging.getLogger(__name__)
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
        set_current_inline(bool(data.get("inline_mode", True)))  # what Transfer can do
        return await handler(event, data)


class Pulse(BaseRequestMiddleware):
    """Readiness of the bot. Long polling is alive while getUpdates is asked again and again
    (a long poll comes back at least every polling timeout, 10 s, and is asked again at once)
    and the last one that came back did not fail; a webhook once Telegram accepted it."""

    def __init__(self, stale_after: float = 45.0) -> None:
        self.stale_after = stale_after
        self.asked_at: float | None = None
        self.failed: str | None = None  # why the last getUpdates that came back failed
        self.webhook_set = False

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        polling = isinstance(method, GetUpdates)
        if polling:
            self.asked_at = time.monotonic()
        try:
            response = await make_request(bot, method)
        except Exception as exc:
            if polling:
                self.failed = type(exc).__name__
            raise
        if polling:
            self.failed = None
        elif isinstance(method, SetWebhook):
            self.webhook_set = True
        return response

    async def ready(self) -> str | None:
        if self.webhook_set:
            return None
        if self.asked_at is None:
            return "not polling Telegram yet"
        if self.failed is not None:
            return f"getUpdates failed ({self.failed})"
        if time.monotonic() - self.asked_at > self.stale_after:
            return f"getUpdates has not been asked for {self.stale_after:g} s"
        return None


class MetricsMiddleware(BaseMiddleware):
    """Counts updates by kind and observes their handling time (the update's outer scope);
    what is logged meanwhile carries the acting Telegram user's id."""

    def __init__(self) -> None:
        # each kind's counter and histogram, looked up once (``labels`` takes a lock each time)
        self._metrics: dict[str, tuple[Any, Any]] = {}

    def _of(self, kind: str) -> tuple[Any, Any]:
        found = self._metrics.get(kind)
        if found is None:
            found = self._metrics[kind] = (
                BOT_UPDATES.labels(kind),
                BOT_UPDATE_SECONDS.labels(kind),
            )
        return found

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        kind = event.event_type if isinstance(event, Update) else type(event).__name__
        user: User | None = data.get("event_from_user")
        started = time.perf_counter()
        with log_context(user_id=user.id if user is not None else None):
            try:
                with handling_update():  # bounds the limiter's waits inside handlers
                    return await handler(event, data)
            finally:
                took = time.perf_counter() - started
                updates, seconds = self._of(kind)
                updates.inc()
                seconds.observe(took)
                log.debug("%s handled in %.1f ms", kind, took * 1000)
