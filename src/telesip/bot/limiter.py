"""Outgoing Bot API calls under Telegram's limits, paced so that a person does not notice.

It is an aiogram request middleware on the bot's session, so every call the bot makes (handlers,
notifications, the outbox) goes through it. Three kinds of call:

- answers to callback and inline queries (and getUpdates & co) pass straight through;
- edits (and deletions) of messages take a token from a lenient per-chat bucket of their own
  (the pressed message changes in place: a person pressing buttons fast sees every edit);
- new messages take a token from the chat's bucket (a burst of ``per_chat_burst``, then
  ``per_chat_per_second``: paced only when a chat is *sustained* above Telegram's limit).

Both kinds also take a token from the overall bucket (about 30/s). A 429 is retried after its
``retry_after``. The buckets and each chat's count of deferred calls are the ``budget``
(bot/budget.py): this process's memory, or Redis shared by several bot processes.

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
from typing import TYPE_CHECKING, Any, Protocol

from aiogram import methods as tg_methods
from aiogram.client.default import Default
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, FSInputFile, InputFile

from telesip.bot.budget import EDIT, SEND, Budget, MemoryBudget, Pace
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

    budget: Budget | None  # the limiter's: told when a deferred call has been made

    async def defer(self, chat_id: int, call: dict[str, Any]) -> None:
        """Queue a serialised call to be made later, after the chat's other deferred ones."""


def kind_of(method: TelegramMethod[Any]) -> str | None:
    """``send`` (a new message), ``edit`` (changes one) or None (not paced)."""
    name = type(method).__name__
    if name.startswith(("Send", "Copy", "Forward")) and name != "SendChatAction":
        return SEND
    if name.startswith(("Edit", "Delete")) and name not in ("DeleteWebhook", "DeleteMyCommands"):
        return EDIT
    return None


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
        budget: Budget | None = None,
    ) -> None:
        self.pace = Pace(
            overall_per_second, per_chat_per_second, per_chat_burst, edit_per_second, edit_burst
        )
        #: the tokens and deferred counts: this process's (MemoryBudget) or shared (RedisBudget)
        self.budget: Budget = budget or MemoryBudget(self.pace)
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self.max_handler_wait = max_handler_wait
        self.deferrer = deferrer
        self.waiting = 0  # calls held back for their turn right now (read by /metrics)

    def defer_to(self, deferrer: Deferrer) -> None:
        """What would hold a handler too long goes to ``deferrer`` (the outbox), which tells the
        budget when it has made each call."""
        self.deferrer = deferrer
        deferrer.budget = self.budget

    def _must_defer(self, chat: Any, wait: float, pending: bool) -> bool:
        if self.deferrer is None or not _IN_UPDATE.get() or chat is None:
            return False
        return wait > self.max_handler_wait or pending

    async def _defer(
        self, bot: Bot, method: TelegramMethod[TelegramType], chat: Any, delay: float
    ) -> Response[TelegramType]:
        assert self.deferrer is not None
        await self.budget.deferred(int(chat), 1)  # first: a call made meanwhile queues behind it
        try:
            await self.deferrer.defer(int(chat), dump_method(method))
        except BaseException:
            await self.budget.deferred(int(chat), -1)
            raise
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
            delay, pending = await self.budget.take(chat, kind)
            if self._must_defer(chat, delay, pending):
                await self.budget.give_back(chat, kind)
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
                if kind is not None and chat is not None:
                    await self.budget.hold(chat, kind, float(exc.retry_after))
                    if self._must_defer(chat, float(exc.retry_after), False):
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
