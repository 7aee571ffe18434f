"""Assembles the bot: dispatcher with every router, middlewares, the error handler, the
outgoing-call limiter and the notifier; runs it with long polling, or behind a webhook when
TELESIP_WEBHOOK_URL is set. TELESIP_BOT_API_URL points it at another Bot API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update
from aiogram.utils.token import TokenValidationError
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from telesip.bot.budget import RedisBudget
from telesip.bot.journal import Journal
from telesip.bot.limiter import RateLimiter
from telesip.bot.middlewares import ContextMiddleware, MetricsMiddleware, Pulse
from telesip.bot.notifier import Notifier
from telesip.bot.outbox import Outbox
from telesip.bot.routers import (
    bulk,
    calls,
    errors,
    fallback,
    imports,
    links,
    new_account,
    rewrite,
    softphone,
    start,
    subscriptions,
    transfer,
    workers,
)
from telesip.bot.session import BotSession
from telesip.bot.setup import start_up
from telesip.bot.storage import make_storage
from telesip.config import Settings
from telesip.domain.errors import ConfigError, TelesipError
from telesip.health import PROBES
from telesip.services import accounts
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)

#: Updates handled at once. Long polling stops fetching while this many are in hand (aiogram's
#: tasks_concurrency_limit), so a burst waits at Telegram instead of piling up tasks here; a
#: webhook is answered at once and handled this many at a time (``QueueingWebhook``), and
#: Telegram opens at most this many connections. The
#: limiter keeps one flooding person from holding the slots (it defers what would wait long).
HANDLER_LIMIT = 32

UPDATES = ["message", "callback_query", "inline_query", "chosen_inline_result"]

#: Webhook updates received but not yet handled, at most; past it Telegram is answered 503 and
#: delivers the update again later.
WEBHOOK_QUEUE = 10_000


class JournaledDispatcher(Dispatcher):
    """Long polling with the update journal (``journal``, set for polling by
    ``journaled_polling``; ``bot/journal.py``): aiogram confirms an update to Telegram (the
    next getUpdates's offset) before its handler runs, so each batch of updates is journaled as
    it arrives, in one transaction, before the next getUpdates (``JournalBatches``, on the
    bot's session); each update is forgotten when its handler has ended. One Telegram
    delivered again (its first copy was journaled by a process that died) is skipped here and
    taken over from the journal."""

    journal: Journal | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: the verdicts of the batch being handed out: update id -> journaled now (handle it)
        self._batch: dict[int, bool] = {}

    async def _listen_updates(  # type: ignore[override]  # aiogram's is a classmethod
        self, bot: Bot, *args: Any, **kwargs: Any
    ) -> AsyncGenerator[Update, None]:
        async for update in super()._listen_updates(bot, *args, **kwargs):
            if self.journal is None or await self._keep(update):
                yield update

    async def journal_batch(
        self, updates: list[Update], received: list[dict[str, Any]] | None = None
    ) -> None:
        """Journal one getUpdates's updates (before aiogram hands them out); ``received``: the
        same updates as Telegram sent them (``BotSession.last_updates``), journaled as they are
        (an update not among them is serialized from aiogram's object)."""
        if self.journal is None or not updates:
            return
        sent = {u.get("update_id"): u for u in received or ()}
        try:
            fresh = await self.journal.keep_serialized(
                [(u.update_id, _serialized(u, sent.get(u.update_id))) for u in updates]
            )
        except TelesipError as exc:  # their handlers meet the same database: "try again"
            log.warning("%d updates not journaled (%s)", len(updates), exc)
            fresh = {u.update_id for u in updates}
        self._batch = {u.update_id: u.update_id in fresh for u in updates}

    async def _keep(self, update: Update) -> bool:
        assert self.journal is not None
        verdict = self._batch.pop(update.update_id, None)
        if verdict is not None:
            return verdict
        try:  # not journaled with its batch (no JournalBatches on this bot's session)
            return await self.journal.keep(
                update.model_dump(mode="json", by_alias=True, exclude_none=True)
            )
        except TelesipError as exc:  # its handler meets the same database: "try again"
            log.warning("update %d not journaled (%s)", update.update_id, exc)
            return True

    async def _process_update(
        self, bot: Bot, update: Update, call_answer: bool = True, **kwargs: Any
    ) -> bool:
        handled = await super()._process_update(bot, update, call_answer, **kwargs)
        if self.journal is not None:  # not reached when cut short: it stays journaled
            await self.journal.forget(update.update_id)
        return handled

    def handle_left(self, bot: Bot, update: dict[str, Any]) -> None:
        """Handle an update a stopped process left in the journal."""
        parsed = Update.model_validate(update, context={"bot": bot})
        task = asyncio.create_task(self._process_update(bot, parsed))
        self._handle_update_tasks.add(task)
        task.add_done_callback(self._handle_update_tasks.discard)


def _serialized(update: Update, sent: dict[str, Any] | None = None) -> bytes:
    """The update as JSON, as the journal keeps it: as Telegram sent it (``sent``, its JSON
    object: half the CPU of pydantic's serializing), else what ``Update.model_dump(mode="json",
    by_alias=True, exclude_none=True)`` gives, serialized by pydantic itself. Either is read
    back into the same ``Update`` by a process taking it over."""
    if sent is not None:
        return json.dumps(sent, separators=(",", ":")).encode()
    return update.model_dump_json(by_alias=True, exclude_none=True).encode()


class JournalBatches(BaseRequestMiddleware):
    """On the bot's session while it polls: each getUpdates's updates are journaled as soon as
    they arrive (``JournaledDispatcher.journal_batch``), one transaction for the batch."""

    def __init__(self, dp: JournaledDispatcher) -> None:
        self.dp = dp

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        result: Any = await make_request(bot, method)  # aiogram's chain passes the result on
        if isinstance(method, GetUpdates) and result:
            # as Telegram sent them: read before anything else runs (nothing awaited since
            # the session decoded the answer)
            received = getattr(bot.session, "last_updates", None)
            await self.dp.journal_batch(result, received)
        # the type as a string: ``Response[TelegramType]`` evaluated is a pydantic generic
        # lookup on every call (two a press)
        return cast("Response[TelegramType]", result)


@contextlib.asynccontextmanager
async def journaled_polling(bot: Bot, dp: Dispatcher, deps: Dependencies) -> AsyncIterator[Journal]:
    """Around long polling: every update journaled (``JournaledDispatcher``), batch by batch,
    and the journal's upkeep running; on the way out what was handled is forgotten and what
    was not stays journaled for the next process."""
    assert isinstance(dp, JournaledDispatcher)
    journal = dp.journal = Journal(deps)
    batches = JournalBatches(dp)
    bot.session.middleware(batches)
    keeper = asyncio.create_task(journal.maintain(lambda update: dp.handle_left(bot, update)))
    try:
        yield journal
    finally:
        journal.closing = True
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper
        await journal.settle()
        bot.session.middleware.unregister(batches)
        dp.journal = None


class QueueingWebhook(SimpleRequestHandler):
    """Answers Telegram's POST at once and handles the update in the background,
    ``HANDLER_LIMIT`` at a time, the others waiting their turn in arrival order (past
    ``WEBHOOK_QUEUE`` waiting: 503, Telegram tries again). So Telegram never waits on a handler,
    whose own calls to Telegram may hang while Telegram is unwell, and never delivers an update
    again because the first delivery timed out. (The handlers make their calls themselves; none
    returns a method for the webhook's answer, which background handling would not send.)

    With ``deps``, an update is journaled in the database before Telegram is answered and
    forgotten when its handler ends (``bot/journal.py``): updates waiting here when the
    process stops or dies (a Telegram outage piles them up) are handled by the next bot process,
    which takes over what a silent holder left (``maintain``). A database that does not answer
    gets Telegram a 503: it keeps the update and delivers it again."""

    def __init__(
        self, dispatcher: Dispatcher, bot: Bot, deps: Dependencies | None = None, **kwargs: Any
    ) -> None:
        super().__init__(dispatcher, bot, handle_in_background=True, **kwargs)
        self._slots = asyncio.Semaphore(HANDLER_LIMIT)
        self.waiting = 0
        self.journal = Journal(deps) if deps is not None else None

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        if self.waiting >= WEBHOOK_QUEUE:
            return web.Response(status=503, headers={"Retry-After": "1"})
        update = await request.json(loads=bot.session.json_loads)
        if self.journal is not None:
            try:
                if not await self.journal.keep(update):
                    return web.json_response({})  # delivered again: its first copy is in hand
            except TelesipError as exc:
                log.warning("webhook update not journaled (%s): Telegram will send it again", exc)
                return web.Response(status=503, headers={"Retry-After": "1"})
        self._start(bot, update)
        return web.json_response({}, dumps=bot.session.json_dumps)

    def _start(self, bot: Bot, update: dict[str, Any]) -> None:
        task = asyncio.create_task(self._background_feed_update(bot, update))
        self._background_feed_update_tasks.add(task)
        task.add_done_callback(self._background_feed_update_tasks.discard)

    async def _background_feed_update(self, bot: Bot, update: dict[str, Any]) -> None:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            await super()._background_feed_update(bot, update)
        finally:
            self._slots.release()
            if self.journal is not None:
                await self.journal.forget(int(update["update_id"]))

    async def maintain(self, bot: Bot) -> None:
        """Until cancelled: the journal's upkeep (``Journal.maintain``), handling here what a
        stopped process left. Without a journal (no ``deps``): waits until cancelled."""
        if self.journal is None:
            await asyncio.Event().wait()
        assert self.journal is not None
        await self.journal.maintain(lambda update: self._start(bot, update))

    async def stop(self) -> None:
        """Stop handling: updates not handled yet stay journaled for the next process."""
        if self.journal is not None:
            self.journal.closing = True
        tasks = list(self._background_feed_update_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.journal is not None:
            await self.journal.settle()  # the handled ones forgotten


def build_dispatcher(
    deps: Dependencies,
    storage: BaseStorage | None = None,
    notifier: Notifier | None = None,
    miniapp_url: str | None = None,
) -> Dispatcher:
    """The dispatcher with every feature; ``storage`` defaults to the database storage;
    ``miniapp_url`` (TELESIP_PUBLIC_URL's Mini App) adds the buttons that open the table."""
    dp = JournaledDispatcher(storage=storage or make_storage(deps, None))
    dp["deps"] = deps
    dp["notifier"] = notifier
    dp["miniapp_url"] = miniapp_url
    dp.update.outer_middleware(MetricsMiddleware())
    for observer in (dp.message, dp.callback_query, dp.inline_query, dp.chosen_inline_result):
        observer.outer_middleware(ContextMiddleware())
    dp.errors.register(errors.on_error)
    # commands first (they work in the middle of a wizard), the catch-all last
    for module in (
        start,
        softphone,
        subscriptions,
        links,
        workers,
        transfer,
        bulk,  # before imports: a document captioned /assign is an assignment file
        imports,
        new_account,
        rewrite,
        calls,
        fallback,
    ):
        _detach(module.router)
        dp.include_router(module.router)
    return dp


def _detach(router: Router) -> None:
    """Routers are module-level singletons; a new dispatcher (tests, the benchmark) takes them
    over from the previous one, which aiogram has no public call for."""
    parent = router.parent_router
    if parent is not None:
        parent.sub_routers.remove(router)
        router._parent_router = None


def build_bot(token: str, api_url: str | None = None, limiter: RateLimiter | None = None) -> Bot:
    session = BotSession(api=TelegramAPIServer.from_base(api_url)) if api_url else BotSession()
    try:
        bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    except TokenValidationError:
        raise ConfigError(reason="TELESIP_BOT_TOKEN is not a bot token (123456:ABC...)") from None
    bot.session.middleware(limiter or RateLimiter())
    return bot


def shared_budget(settings: Settings, limiter: RateLimiter, bot: Bot) -> RedisBudget | None:
    """With TELESIP_REDIS_URL the limiter's budget lives in Redis, shared by every process of
    this bot (several behind one webhook stay within Telegram's per-chat and overall limits
    together); without it, in this process (one bot process)."""
    if not settings.redis_url:
        return None
    budget = RedisBudget.from_url(settings.redis_url, limiter.pace, f"telesip:pace:{bot.id}")
    limiter.budget = budget
    return budget


def settle_gc() -> None:
    """Move everything alive after start-up (aiogram's and pydantic's hundreds of thousands of
    objects) out of the collector's sight: full collections then scan only what updates
    create. Measured by bench/bench_bot.py at 100 presses/s: p99 from 340-610 ms to 17-55 ms."""
    gc.collect()
    gc.freeze()


async def run_bot(deps: Dependencies, settings: Settings) -> None:
    """The ``bot`` part of ``telesip run``: until cancelled."""
    if settings.bot_token is None:
        raise ConfigError(reason="TELESIP_BOT_TOKEN is not set")
    limiter, pulse = RateLimiter(), Pulse()
    bot = build_bot(settings.bot_token.get_secret_value(), settings.bot_api_url, limiter)
    budget = shared_budget(settings, limiter, bot)
    bot.session.middleware(pulse)
    notifier = Notifier(deps, bot)
    dp = build_dispatcher(
        deps, make_storage(deps, settings.redis_url), notifier, settings.miniapp_url
    )
    outbox = Outbox(deps, bot, settings.data_dir / "recordings")
    limiter.defer_to(outbox)  # what would hold a handler too long is sent from there
    notifier.start()
    outbox.start()
    sweeper = (
        asyncio.create_task(disable_unused_forever(deps), name="telesip-unused")
        if deps.rules.disable_unused
        else None
    )
    probes = PROBES.part("bot", ready=pulse.ready, collect=lambda: limiter_metrics(limiter))
    try:
        with probes:
            found = await start_up(bot)  # getMe (inline mode), menu, descriptions
            dp["inline_mode"] = found.inline_mode
            settle_gc()
            if settings.webhook_url:
                await _serve_webhook(bot, dp, settings)
            else:
                await bot.delete_webhook()
                await _poll(bot, dp, deps)
    finally:
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await outbox.stop()
        await notifier.stop()
        await dp.storage.close()
        if budget is not None:
            await budget.close()
        await bot.session.close()


async def disable_unused_forever(deps: Dependencies, every: float = 3600.0) -> None:
    """TELESIP_DISABLE_UNUSED: disable unused accounts (R11) at start, then every ``every``
    seconds. It runs in the bot process, whose notifier tells the owners (events are published
    in-process); the workers see the accounts disabled within their poll. Several bot
    processes may run it at once: each account is disabled, and told of, once."""
    while True:
        try:
            if gone := await accounts.disable_unused(deps):
                log.info("disabled %d unused accounts", len(gone))
        except TelesipError as exc:
            log.warning("disabling unused accounts failed: %s", exc)
        await asyncio.sleep(every)


def limiter_metrics(limiter: RateLimiter) -> list[Metric]:
    waiting = GaugeMetricFamily(
        "telesip_bot_limiter_waiting", "Messages waiting in the rate limiter for their turn now"
    )
    waiting.add_metric([], limiter.waiting)
    return [waiting]


def webhook_secret(token: str) -> str:
    """The webhook's secret token, the same in every process of the bot (each one sets the
    webhook at start; a secret of its own would lock the others out), known only to who holds
    the bot token."""
    return hmac.new(token.encode(), b"telesip webhook", hashlib.sha256).hexdigest()


async def _poll(bot: Bot, dp: Dispatcher, deps: Dependencies) -> None:
    """Long polling, every update journaled (``journaled_polling``)."""
    async with journaled_polling(bot, dp, deps):
        await dp.start_polling(
            bot,
            handle_signals=False,
            allowed_updates=UPDATES,
            tasks_concurrency_limit=HANDLER_LIMIT,
        )


async def _serve_webhook(bot: Bot, dp: Dispatcher, settings: Settings) -> None:
    """Serve Telegram's POSTs at TELESIP_WEBHOOK_BIND. Several bot processes may bind the same
    address (SO_REUSEPORT: the kernel spreads Telegram's connections over them); with
    TELESIP_REDIS_URL they share the pacing budget and one of them sends the outbox."""
    assert settings.webhook_url is not None
    secret = webhook_secret(bot.token)
    path = urlsplit(settings.webhook_url).path or "/"
    app = web.Application()
    handler = QueueingWebhook(dp, bot, dp["deps"], secret_token=secret)
    handler.register(app, path=path)
    setup_application(app, dp, bot=bot)
    host, _, port = settings.webhook_bind.rpartition(":")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "127.0.0.1", int(port), reuse_port=True).start()
    try:
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=secret,
            allowed_updates=UPDATES,
            max_connections=HANDLER_LIMIT,
        )
        log.info("bot webhook at %s (listening on %s)", settings.webhook_url, settings.webhook_bind)
        await handler.maintain(bot)
    finally:
        await handler.stop()
        await runner.cleanup()
