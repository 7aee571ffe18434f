"""Tells people what others did to their accounts (R2 and the transfer flows).

Subscribed to the message bus: a handler only decides who to tell and puts the notice on a
queue, so the operation that caused the event never waits for Telegram and never fails because
of it. One background task sends the queue through the bot (and so through the limiter), in
order; a person who blocked the bot or never started it is skipped with a log line. While
Telegram is away (a 5xx answer, a timeout, no connection) the notice at the head waits and is
tried again after a capped, jittered backoff, and the queue behind it waits too: nothing is
lost or reordered (the queue is in memory: a restart during an outage forgets what it held,
never what the operation committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import random
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramServerError

from telesip.bot.locales import lang_of, t
from telesip.domain import events
from telesip.metrics import BOT_SEND_FAILURES
from telesip.services import offers, people
from telesip.services.bus import MessageBus
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)

AWAY_BACKOFF_MAX = 30.0  # seconds between two tries of a notice while Telegram is away, at most


@dataclass(frozen=True)
class Notice:
    user_id: int
    key: str
    params: dict[str, Any]
    about_user_id: int | None = None  # rendered as {user}


@dataclass(frozen=True)
class Retire:
    """An offer replaced by a newer one (R3): its message loses the Receive button."""

    offer_id: int


def notices_for(event: events.Event) -> list[Notice | Retire]:
    """Who is affected by ``event`` and what they are told (never the actor themselves)."""
    e, i, actor = event, event.account_id, event.actor_id
    out: list[Notice | Retire] = []

    def tell(user_id: int | None, key: str, about: int | None = None) -> None:
        if user_id is not None and user_id != actor:
            out.append(Notice(user_id, key, {"id": i}, about))

    if isinstance(e, events.SettingsChanged) and e.user_id != actor:
        if e.recording is not None:  # the person on the calls is told they are recorded
            tell(e.user_id, "n.recording_on" if e.recording else "n.recording_off")
        else:
            tell(e.user_id, "n.settings_changed")
    elif isinstance(e, events.AccountDisabled) and e.unused:  # TELESIP_DISABLE_UNUSED (R11)
        tell(e.owner_id, "n.disabled_unused")
        if e.user_id != e.owner_id:
            tell(e.user_id, "n.disabled_unused")
    elif isinstance(e, events.AccountDisabled):
        tell(e.user_id, "n.disabled")
    elif isinstance(e, events.AccountDeleted) and e.user_id != e.owner_id:
        tell(e.user_id, "n.deleted")
    elif isinstance(e, events.AssignmentEnded):
        if e.by_user:
            tell(e.owner_id, "n.returned", about=e.previous_user_id)
        else:
            tell(e.previous_user_id, "n.taken_back")
    elif isinstance(e, events.UserAssigned):
        tell(e.user_id, "n.assigned")  # reassigned by the owner (not told when they received it)
        if e.previous_user_id not in (e.owner_id, e.user_id):
            tell(e.previous_user_id, "n.unassigned")
    elif isinstance(e, events.OwnershipTransferred):
        # the whole account moved (R6-R8); whoever it was assigned to has lost it
        if e.previous_user_id not in (e.from_owner_id, e.to_owner_id):
            tell(e.previous_user_id, "n.unassigned")
    elif isinstance(e, events.LinkOpened):
        tell(e.owner_id, "n.link_opened", about=e.user_id)
    elif isinstance(e, events.OfferCreated) and e.replaced_offer_id is not None:
        out.append(Retire(e.replaced_offer_id))
    return out


class Notifier:
    """Queue of notices and the task that sends them."""

    def __init__(self, deps: Dependencies, bot: Bot, bus: MessageBus | None = None) -> None:
        self.deps = deps
        self.bot = bot
        self.queue: asyncio.Queue[Notice | Retire] = asyncio.Queue(maxsize=10_000)
        self.away_backoff = 1.0  # the first wait while Telegram is away (doubles, capped)
        self.away_backoff_max = AWAY_BACKOFF_MAX
        self._task: asyncio.Task[None] | None = None
        (bus or deps.bus).subscribe(None, self.on_event)

    async def on_event(self, event: events.Event) -> None:
        # Ownership moves (R6-R8) are shown in the chat message itself; the transfer flow adds
        # the one notice the event cannot tell apart (R7 "took back") with ``tell``.
        for notice in notices_for(event):
            self.tell(notice)

    def tell(self, notice: Notice | Retire) -> None:
        """Queue a notice; never blocks, never raises."""
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.warning("notification queue full; dropping a notice")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="telesip-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            notice = await self.queue.get()
            try:
                await self.send(notice)
            except asyncio.CancelledError:
                raise
            except Exception:  # a notification never takes the bot down
                log.exception("notification %r failed", notice)
            finally:
                self.queue.task_done()

    async def send(self, notice: Notice | Retire) -> None:
        if isinstance(notice, Retire):
            await self.retire(notice.offer_id)
            return
        target = await people.get_user(self.deps, notice.user_id)
        lang = lang_of(target.language_code if target else None)
        params = dict(notice.params)
        if notice.about_user_id is not None:
            about = await people.get_user(self.deps, notice.about_user_id)
            params["user"] = html.escape(about.label) if about else f"id{notice.about_user_id}"
        text = t(lang, notice.key, **params)
        tries = 0
        while True:
            try:
                await self.bot.send_message(notice.user_id, text)
            except (TelegramServerError, TelegramNetworkError) as exc:  # Telegram is away
                BOT_SEND_FAILURES.labels("notification").inc()
                if tries == 0:
                    log.warning("notifications wait: Telegram is not answering (%s)", exc)
                cap = min(self.away_backoff_max, self.away_backoff * 2.0 ** min(tries, 16))
                tries += 1
                await asyncio.sleep(random.uniform(cap / 2, cap))
                continue
            except TelegramAPIError as exc:
                BOT_SEND_FAILURES.labels("notification").inc()
                log.info("cannot notify %s: %s", notice.user_id, exc.message)
            if tries:
                log.info("notifications go out again (Telegram answered after %d tries)", tries)
            return

    async def retire(self, offer_id: int) -> None:
        offer = await offers.get_offer(self.deps, offer_id)
        if offer.inline_message_id is None:
            return
        sender = await people.get_user(self.deps, offer.sender_id)
        lang = lang_of(sender.language_code if sender else None)
        try:
            await self.bot.edit_message_text(
                text=t(lang, "error.offer_replaced"), inline_message_id=offer.inline_message_id
            )
        except TelegramAPIError as exc:
            log.info("cannot retire offer %s: %s", offer_id, exc.message)
