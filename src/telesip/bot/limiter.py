"""Outgoing Bot API calls under Telegram's limits: about 30 messages/s overall and about one
per second per chat (with a short burst), and a retry after a 429 ``retry_after``.

It is an aiogram request middleware on the bot's session, so every call the bot makes (handlers,
notifications) goes through it. Only calls that send or change messages are paced; answers to
callback and inline queries, getUpdates and the like pass straight through. Buckets are token
buckets kept per process; a chat's bucket is dropped once it is full again.

Inside the handling of an update (``handling_update``) a call never waits longer than
``max_handler_wait`` for its chat: one that would is refused with ``Flooded`` (the person is
pressing faster than Telegram lets us answer; their press is still answered, the edit is not
made). So a handler holds its slot of the bounded handling (``app.HANDLER_LIMIT``) for at most
that long, and one person cannot hold every slot. Notifications, sent outside updates, wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

from telesip.metrics import BOT_SEND_FAILURES

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

#: aiogram validates each answer with ``Response[<return type>]``; pydantic keeps these
#: parametrised models only weakly, so once the last answer of a kind is gone the next call
#: builds the model class again (several ms of CPU: at a steady 50 presses/s a third of all
#: calls did). A strong reference per method type keeps them.
_RESPONSE_TYPES: dict[type[Any], Any] = {}


def pin_response_type(method: TelegramMethod[Any]) -> None:
    kind = type(method)
    if kind not in _RESPONSE_TYPES:
        from aiogram.methods import Response

        _RESPONSE_TYPES[kind] = Response[method.__returning__]  # type: ignore[name-defined]


_IN_UPDATE: ContextVar[bool] = ContextVar("telesip_in_update", default=False)


@contextlib.contextmanager
def handling_update() -> Iterator[None]:
    """Marks the calls made while an update is handled (the dispatcher's outer middleware)."""
    token = _IN_UPDATE.set(True)
    try:
        yield
    finally:
        _IN_UPDATE.reset(token)


class Flooded(Exception):
    """A call made while handling an update would wait too long for its chat's turn."""


@dataclass
class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Take a token; return how long to wait before the call may go (0: at once)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


class RateLimiter(BaseRequestMiddleware):
    """Paces message-sending calls and retries them after 429 (up to ``max_retries``)."""

    def __init__(
        self,
        overall_per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        per_chat_burst: float = 3.0,
        max_retries: int = 3,
        max_retry_after: float = 60.0,
        max_handler_wait: float = 2.0,
    ) -> None:
        now = time.monotonic()
        self.overall = Bucket(overall_per_second, overall_per_second, overall_per_second, now)
        self.per_chat_rate = per_chat_per_second
        self.per_chat_burst = per_chat_burst
        self.chats: dict[Any, Bucket] = {}
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.max_handler_wait = max_handler_wait

    def _delay(self, chat: Any) -> float:
        now = time.monotonic()
        wait = self.overall.take(now)
        if chat is not None:
            bucket = self.chats.get(chat)
            if bucket is None:
                if len(self.chats) > 10_000:  # forget chats whose buckets are full again
                    self.chats = {
                        k: b
                        for k, b in self.chats.items()
                        if b.tokens + (now - b.stamp) * b.rate < b.burst
                    }
                bucket = Bucket(self.per_chat_rate, self.per_chat_burst, self.per_chat_burst, now)
                self.chats[chat] = bucket
            chat_wait = bucket.take(now)
            if chat_wait > self.max_handler_wait and _IN_UPDATE.get():
                bucket.tokens += 1  # refused: the turn is not used
                self.overall.tokens += 1
                raise Flooded(f"chat {chat} would wait {chat_wait:.1f}s")
            wait = max(wait, chat_wait)
        return wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        pin_response_type(method)
        name = type(method).__name__
        paced = name.startswith(("Send", "Edit", "Copy", "Forward"))
        if paced:
            delay = self._delay(getattr(method, "chat_id", None))
            if delay > 0:
                await asyncio.sleep(delay)
        attempt = 0
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                attempt += 1
                if attempt > self.max_retries or exc.retry_after > self.max_retry_after:
                    BOT_SEND_FAILURES.labels(name).inc()
                    raise
                log.info("429 on %s: retrying after %ss", name, exc.retry_after)
                await asyncio.sleep(exc.retry_after)
