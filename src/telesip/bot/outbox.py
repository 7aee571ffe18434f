"""Sends what other processes asked the bot to say: the calls' messages (incoming call,
missed call, keypad, recording) that a worker put in the database's outbox.

It also delivers the bot's own calls that the limiter deferred (``bot_call``: a serialised Bot
API call, made when a handler would have waited too long for a chat's turn).

One task polls the outbox twice a second and sends due messages (of several bot processes
sharing a Redis budget, the one whose turn it is: ``Budget.sender``), each in its person's
language, through the bot (and so through the limiter): chats in parallel, each chat's
messages in order (the bot's own deferred calls wait while an older message to their chat is
put back).
Telegram asking to wait puts a message back for later; a person who blocked the bot is given up
on. Telegram away (a 5xx answer, a timeout, no connection: nothing to do with the message) holds
the whole outbox instead: the message stays due with its attempts unchanged, its chat's later
messages wait behind it, and the next round comes after a capped, jittered backoff; once
Telegram answers, everything goes out oldest first per chat, none lost (an outage never counts
towards ``MAX_ATTEMPTS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import random
import uuid
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import FSInputFile, Message

from telesip.bot.budget import Budget
from telesip.bot.limiter import load_method
from telesip.bot.locales import lang_of, t
from telesip.bot.routers.calls import keypad
from telesip.domain.readmodels import OutboxMessage
from telesip.metrics import BOT_SEND_FAILURES
from telesip.services import calls, outbox, people
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
AWAY_BACKOFF_MAX = 30.0  # seconds between two rounds while Telegram is away, at most

#: Telegram itself is away (not this message's fault): the outbox waits, nothing is put back
TELEGRAM_AWAY = (TelegramServerError, TelegramNetworkError)


def _escaped(params: dict[str, Any]) -> dict[str, Any]:
    """Numbers come from SIP headers: whatever a far end put there is shown as text."""
    return {k: html.escape(v) if isinstance(v, str) else v for k, v in params.items()}


class Outbox:
    def __init__(
        self, deps: Dependencies, bot: Bot, recordings: Path, *, interval: float = 0.5
    ) -> None:
        self.deps = deps
        self.bot = bot
        self.recordings = recordings
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.budget: Budget | None = None  # the limiter's (``RateLimiter.defer_to``)
        self.holder = uuid.uuid4().hex  # for the sender's turn among the bot's processes
        self._away: TelegramAPIError | None = None  # Telegram did not answer in this round
        self._away_rounds = 0  # rounds in a row Telegram did not answer
        self.away_backoff_max = AWAY_BACKOFF_MAX

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telesip-outbox")

    async def defer(self, chat_id: int, call: dict[str, Any]) -> None:
        """The limiter's ``deferrer``: queue one of the bot's own calls (the limiter paces it
        when this outbox makes it; it has counted the call in the budget's deferred calls)."""
        await outbox.put(self.deps, chat_id, "bot_call", call)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                if self.budget is None or await self.budget.sender(self.holder):
                    await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be away for a moment; try again later
                log.exception("outbox round failed")
            if self._away is not None:  # nothing can go out: no wake-up shortens the wait
                await asyncio.sleep(self.away_backoff())
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    def away_backoff(self) -> float:
        """The wait before the next round while Telegram is away: doubling from the polling
        interval up to ``AWAY_BACKOFF_MAX``, with full jitter (many bots do not come back at
        once)."""
        cap = min(self.away_backoff_max, self.interval * 2.0 ** min(self._away_rounds, 16))
        return random.uniform(cap / 2, cap)

    def _telegram_away(self, exc: TelegramAPIError) -> None:
        if self._away is None and self._away_rounds == 0:
            log.warning("outbox: Telegram is not answering (%s); messages wait, in order", exc)
        self._away = exc

    async def drain(self) -> int:
        """Send every due message once; returns how many were handled."""
        self._away = None
        try:
            return await self._drain()
        finally:
            if self._away is not None:
                self._away_rounds += 1
            elif self._away_rounds:
                log.info("outbox: Telegram answers again (after %d rounds)", self._away_rounds)
                self._away_rounds = 0

    async def _drain(self) -> int:
        due = await outbox.due(self.deps)
        by_chat: dict[int, list[OutboxMessage]] = {}
        for message in due:
            by_chat.setdefault(message.chat_id, []).append(message)
        await asyncio.gather(*(self._chat(messages) for messages in by_chat.values()))
        return len(due)

    async def _chat(self, messages: list[OutboxMessage]) -> None:
        held = False
        for message in messages:
            if self._away is not None:
                return  # Telegram is away: every later message of the chat waits, in order
            if held and message.kind == "bot_call":
                continue  # the bot's own messages wait for an older one put back
            if not await self._handle(message):
                held = True

    async def _handle(self, message: OutboxMessage) -> bool:
        """Send one message; False when it was put back for later."""
        try:
            telegram_id = await self._send(message)
        except TelegramRetryAfter as exc:
            await outbox.retry(self.deps, message.id, float(exc.retry_after))
            return False
        except TELEGRAM_AWAY as exc:  # stays due, attempts unchanged
            BOT_SEND_FAILURES.labels("outbox").inc()
            self._telegram_away(exc)
            return False
        except (TelegramForbiddenError, TelegramBadRequest, TelegramNotFound) as exc:
            BOT_SEND_FAILURES.labels("outbox").inc()
            log.info("outbox: cannot reach %s: %s", message.chat_id, exc.message)
            telegram_id = None  # blocked, never started, gone: nothing more to try
        except TelegramAPIError as exc:
            if message.attempts + 1 >= MAX_ATTEMPTS:
                BOT_SEND_FAILURES.labels("outbox").inc()
                log.warning("outbox: giving up on message %s: %s", message.id, exc.message)
                telegram_id = None
            else:
                await outbox.retry(self.deps, message.id, 2.0 ** (message.attempts + 1))
                return False
        await outbox.sent(self.deps, message.id, telegram_id)
        if message.kind == "bot_call" and self.budget is not None:
            await self.budget.deferred(message.chat_id, -1)
        return True

    async def _send(self, message: OutboxMessage) -> int | None:
        if message.kind == "bot_call":  # already in the person's language
            result = await self.bot(load_method(message.payload))
            return result.message_id if isinstance(result, Message) else None
        person = await people.get_user(self.deps, message.chat_id)
        lang = lang_of(person.language_code if person else None)
        payload = message.payload
        params = _escaped(dict(payload.get("params") or {}))
        if message.kind == "text":
            sent = await self.bot.send_message(message.chat_id, t(lang, payload["key"], **params))
            return sent.message_id
        if message.kind == "keypad":
            call_id = int(payload["call_id"])
            sent = await self.bot.send_message(
                message.chat_id,
                t(lang, "call.keypad", **params),
                reply_markup=keypad(lang, call_id),
            )
            return sent.message_id
        if message.kind == "drop_keypad":
            call_id = int(payload["call_id"])
            keypad_id = await outbox.keypad_of(self.deps, message.chat_id, call_id)
            if keypad_id is not None:
                call = await calls.get_call(self.deps, call_id)
                text = t(
                    lang,
                    "call.keypad_done",
                    number=html.escape(call.number),
                    line_id=call.account_id,
                )
                with contextlib.suppress(TelegramBadRequest):  # deleted by the person already
                    await self.bot.edit_message_text(
                        text, chat_id=message.chat_id, message_id=keypad_id, reply_markup=None
                    )
            return None
        if message.kind == "document":
            path = self.recordings / Path(str(payload["file"])).name
            if not path.is_file():
                log.info("outbox: recording %s is gone", path.name)
                return None
            sent = await self.bot.send_document(
                message.chat_id,
                FSInputFile(path),
                caption=t(lang, payload.get("key", "call.recording"), **params),
            )
            return sent.message_id
        log.warning("outbox: unknown message kind %r", message.kind)
        return None
