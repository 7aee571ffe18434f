"""Outgoing Bot API calls under Telegram's limits, paced so that a person does not notice.

It is an aiogram request middleware on the bot's session, so every call the bot makes (handlers,
notifications, the outbox) goes through it. Three kinds of call:

- answers to callback and inline queries (and getUpdates & co) pass straight through;
- edits (and deletions) of messages take a token from a lenient per-chat bucket of their own
  (the pressed message changes in place: a person pressing buttons fast sees every edit);
- new messages take a token from the chat's bucket (a burst of ``per_chat_burst``, then
  ``per_chat_per_second``: paced only when a chat is *sustained* above Telegram's limit).

Both kinds also take a token from the overall bucket (about 30/s). A 429 is retried after its
``retry_after``. Buckets are token buckets kept per process; idle chats are forgotten.

Inside the handling of an update (``handling_update``) a call never waits longer than
``max_handler_wait``: one that would is *deferred* (when a ``deferrer`` is set, as ``run_bot``
does): the call is serialised and queued in the database outbox (``bot.outbox``), its tokens
are given back, the handler gets a placeholder result at once, and the outbox makes the call
soon after, waiting here for the chat's turn (outside an update a call waits), in order with
the chat's other queued messages. A 429 empties the chat's bucket for ``retry_after``. So a
handler holds its slot of the bounded handling (``app.HANDLER_LIMIT``) only briefly, one
person cannot hold every slot, and a message confirming a committed change is never dropped.
While a chat has deferred calls, its later calls are deferred too (order is kept). Without a
deferrer a call waits its turn.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import methods as tg_methods
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, FSInputFile, InputFile

from telesip.metrics import BOT_QUEUED, BOT_RETRY_AFTER, BOT_SEND_FAILURES

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

#: aiogram validates each answer with ``Response[<return type>]``; pydantic keeps these
#: parametrised models only weakly, so once the last answer of a kind is gone the next call
#: builds the model class again (several ms of CPU: at a steady 50 presses/s a third of all
#: calls did). A strong reference per method type keeps them.
_RESPONSE_TYPES: dict[type[Any], Any] = {}


def pin_response_type(method: TelegramMethod[Any]) -> Any:
    kind = type(method)
    model = _RESPONSE_TYPES.get(kind)
    if model is None:
        from aiogram.methods import Response

        model = _RESPONSE_TYPES[kind] = Response[method.__returning__]  # type: ignore[name-defined]
    return model


_IN_UPDATE: ContextVar[bool] = ContextVar("telesip_in_update", default=False)


@contextlib.contextmanager
def handling_update() -> Iterator[None]:
    """Marks the calls made while an update is handled (the dispatcher's outer middleware)."""
    token = _IN_UPDATE.set(True)
    try:
        yield
    finally:
        _IN_UPDATE.reset(token)


class Deferrer(Protocol):
    """Where calls that would wait too long go (the bot's outbox)."""

    async def defer(self, chat_id: int, call: dict[str, Any]) -> None:
        """Queue a serialised call to be made later, after the chat's other deferred ones."""

    def pending(self, chat_id: int) -> bool:
        """Whether calls deferred for the chat are not made yet (later ones must queue too)."""


SEND = "send"
EDIT = "edit"


def kind_of(method: TelegramMethod[Any]) -> str | None:
    """``send`` (a new message), ``edit`` (changes one) or None (not paced)."""
    name = type(method).__name__
    if name.startswith(("Send", "Copy", "Forward")) and name != "SendChatAction":
        return SEND
    if name.startswith(("Edit", "Delete")) and name not in ("DeleteWebhook", "DeleteMyCommands"):
        return EDIT
    return None


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

    def hold(self, now: float, seconds: float) -> None:
        """Telegram said wait: the next token comes ``seconds`` from now at the earliest."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens = min(self.tokens, 1 - seconds * self.rate)

    def full(self, now: float) -> bool:
        return self.tokens + (now - self.stamp) * self.rate >= self.burst


class ChatBuckets:
    """One bucket per chat, made full on first use; full ones are forgotten when many."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.buckets: dict[Any, Bucket] = {}

    def get(self, chat: Any, now: float) -> Bucket:
        bucket = self.buckets.get(chat)
        if bucket is None:
            if len(self.buckets) > 10_000:
                self.buckets = {k: b for k, b in self.buckets.items() if not b.full(now)}
            bucket = self.buckets[chat] = Bucket(self.rate, self.burst, self.burst, now)
        return bucket


class RateLimiter(BaseRequestMiddleware):
    """Paces message calls, defers what would wait too long in a handler, retries after 429."""

    def __init__(
        self,
        overall_per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        per_chat_burst: float = 6.0,
        edit_per_second: float = 5.0,
        edit_burst: float = 20.0,
        max_retries: int = 3,
        max_retry_after: float = 60.0,
        max_handler_wait: float = 1.0,
        deferrer: Deferrer | None = None,
    ) -> None:
        now = time.monotonic()
        self.overall = Bucket(overall_per_second, overall_per_second, overall_per_second, now)
        self.sends = ChatBuckets(per_chat_per_second, per_chat_burst)
        self.edits = ChatBuckets(edit_per_second, edit_burst)
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.max_handler_wait = max_handler_wait
        self.deferrer = deferrer
        self.waiting = 0  # calls held back for their turn right now (read by /metrics)

    def _delay(self, chat: Any, kind: str = SEND) -> float:
        """Take the tokens of one call; how long it must wait. A deferred call gives them back
        (``_give_back``): the outbox takes them again when it makes the call."""
        now = time.monotonic()
        wait = self.overall.take(now)
        if chat is not None:
            buckets = self.sends if kind == SEND else self.edits
            wait = max(wait, buckets.get(chat, now).take(now))
        return wait

    def _give_back(self, chat: Any, kind: str) -> None:
        self.overall.tokens += 1
        if chat is not None:
            buckets = self.sends if kind == SEND else self.edits
            buckets.buckets[chat].tokens += 1

    def _hold(self, chat: Any, kind: str, seconds: float) -> None:
        if chat is not None:
            now = time.monotonic()
            (self.sends if kind == SEND else self.edits).get(chat, now).hold(now, seconds)

    def _must_defer(self, chat: Any, wait: float) -> bool:
        if self.deferrer is None or not _IN_UPDATE.get() or chat is None:
            return False
        return wait > self.max_handler_wait or self.deferrer.pending(int(chat))

    async def _defer(
        self, bot: Bot, method: TelegramMethod[TelegramType], chat: Any, delay: float
    ) -> Response[TelegramType]:
        assert self.deferrer is not None
        await self.deferrer.defer(int(chat), dump_method(method))
        BOT_QUEUED.labels("deferred").inc()
        log.info("%s to %s deferred to the outbox (%.1fs)", type(method).__name__, chat, delay)
        return placeholder(bot, method, int(chat))

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        pin_response_type(method)
        kind = kind_of(method)
        chat = getattr(method, "chat_id", None) if kind is not None else None
        if kind is not None:
            delay = self._delay(chat, kind)
            if self._must_defer(chat, delay):
                self._give_back(chat, kind)
                return await self._defer(bot, method, chat, delay)
            if delay > 0:
                BOT_QUEUED.labels("waited").inc()
                self.waiting += 1
                try:
                    await asyncio.sleep(delay)
                finally:
                    self.waiting -= 1
        attempt = 0
        name = type(method).__name__
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                BOT_RETRY_AFTER.labels(name).inc()
                attempt += 1
                if kind is not None:
                    self._hold(chat, kind, float(exc.retry_after))
                    if self._must_defer(chat, float(exc.retry_after)):
                        return await self._defer(bot, method, chat, float(exc.retry_after))
                if attempt > self.max_retries or exc.retry_after > self.max_retry_after:
                    BOT_SEND_FAILURES.labels(name).inc()
                    raise
                log.info("429 on %s: retrying after %ss", name, exc.retry_after)
                await asyncio.sleep(exc.retry_after)


# -- deferred calls: to and from the outbox's JSON ---------------------------------------------


def dump_method(method: TelegramMethod[Any]) -> dict[str, Any]:
    """A Bot API call as JSON: its method name and parameters (files inline, base64)."""
    files: dict[str, Any] = {}
    skip: set[str] = set()
    for name, value in method:
        if value is None or isinstance(value, Default):
            skip.add(name)
        elif isinstance(value, BufferedInputFile):
            skip.add(name)
            files[name] = {"data": base64.b64encode(value.data).decode(), "name": value.filename}
        elif isinstance(value, FSInputFile):
            skip.add(name)
            files[name] = {"path": str(value.path), "name": value.filename}
        elif isinstance(value, InputFile):
            raise TypeError(f"cannot defer a {type(value).__name__}")
    params = method.model_dump(mode="json", exclude=skip, exclude_none=True)
    return {"method": type(method).__name__, "params": params, "files": files}


def load_method(payload: dict[str, Any]) -> TelegramMethod[Any]:
    """The call ``dump_method`` wrote (parse mode and other defaults come from the bot)."""
    cls = getattr(tg_methods, str(payload["method"]))
    params = dict(payload["params"])
    for name, spec in (payload.get("files") or {}).items():
        if "data" in spec:
            params[name] = BufferedInputFile(base64.b64decode(spec["data"]), spec.get("name"))
        else:
            params[name] = FSInputFile(spec["path"], spec.get("name"))
    method: TelegramMethod[Any] = cls(**params)
    return method


def placeholder(
    bot: Bot, method: TelegramMethod[TelegramType], chat: int
) -> Response[TelegramType]:
    """What a deferred call answers at once: a message without an id yet (0), or True."""
    returns = str(method.__returning__)
    result: Any = True
    if "Message" in returns and "bool" not in returns:
        chat_json = {"id": chat, "type": "private"}
        result = {"message_id": 0, "date": int(time.time()), "chat": chat_json}
    model = pin_response_type(method)
    response: Response[TelegramType] = model.model_validate(
        {"ok": True, "result": result}, context={"bot": bot}
    )
    return response
