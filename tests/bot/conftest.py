"""The real bot (``build_dispatcher``) against the fake Bot API, on the ``services`` fixture.

Bot tests run on SQLite by default; the tests marked ``both_backends`` also run on PostgreSQL
(``backend`` is overridden here so the bot suite stays short).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer

from telesip.bot.app import build_dispatcher, journaled_polling
from telesip.bot.limiter import RateLimiter
from telesip.bot.notifier import Notifier
from telesip.bot.outbox import Outbox
from telesip.bot.session import BotSession
from telesip.bot.setup import start_up
from telesip.domain.clock import FakeClock
from telesip.domain.model import TelegramUser
from telesip.services.dependencies import Dependencies
from tests.fakes import FakeBotAPI, FakeMessage, FakeUser

ALICE = FakeUser(1001, "Alice", username="alice")  # administrator (office plan by default)
BOB = FakeUser(1002, "Bob", username="bob")  # employee
CAROL = FakeUser(1003, "Carol", username="carol", language_code="ru")
MALLORY = FakeUser(1666, "Mallory", username="mallory")  # a stranger
PASSWORD = "s3cr3t-Pa55"
SHORTCUT = f"sip:100:{PASSWORD}@pbx.example.com"


def tg(user: FakeUser) -> TelegramUser:
    """The domain user for a simulated person (to call services directly in assertions)."""
    return TelegramUser(user.id, user.first_name, user.username, user.language_code)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_backends: also run on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        metafunc.parametrize("backend", ["sqlite", "pg"] if both else ["sqlite"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Harness:
    fake: FakeBotAPI
    deps: Dependencies

    clock: FakeClock
    bot: Bot
    outbox: Outbox | None = None

    async def command(self, user: FakeUser, text: str) -> FakeMessage:
        self.fake.send_text(user, text)
        return await self.fake.next_message(user)

    async def new_account(self, user: FakeUser, line: str = SHORTCUT) -> int:
        """Connect an account with the one-line shortcut; returns its numeric ID."""
        listing = await self.command(user, "/softphone")
        await self.fake.press(user, listing, "n:start:")
        await self.fake.next_message(user)  # the login prompt
        self.fake.send_text(user, line)
        card = await self.fake.next_message(user)
        assert "is connected" in card.content or "подключён" in card.content, card.content
        return int(card.content.split("#", 1)[1].split()[0])

    async def card(self, user: FakeUser, account_id: int) -> FakeMessage:
        listing = await self.command(user, "/softphone")
        await self.fake.press_button(user, listing, f"#{account_id}")
        return listing


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(bot_username="telesip_test_bot") as server:
        yield server


@contextlib.asynccontextmanager
async def running_bot(
    fake: FakeBotAPI,
    services: Dependencies,
    clock: FakeClock,
    limiter: RateLimiter,
    recordings: Path | None = None,
    miniapp_url: str | None = None,
) -> AsyncIterator[Harness]:
    """The bot polling the fake with ``limiter``, every update journaled; with ``recordings``
    also the outbox (polled every 50 ms), which the limiter defers to, as ``run_bot`` wires
    them."""
    session = BotSession(api=TelegramAPIServer.from_base(fake.base_url))  # as build_bot's
    bot = Bot(fake.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    bot.session.middleware(limiter)
    notifier = Notifier(services, bot)
    dp = build_dispatcher(services, notifier=notifier, miniapp_url=miniapp_url)
    outbox = Outbox(services, bot, recordings, interval=0.05) if recordings else None
    if outbox is not None:
        limiter.defer_to(outbox)
        outbox.start()
    notifier.start()
    dp["inline_mode"] = (await start_up(bot)).inline_mode

    async def poll() -> None:
        async with journaled_polling(bot, dp, services):  # every update journaled, as run_bot
            await dp.start_polling(bot, handle_signals=False, polling_timeout=5)

    task = asyncio.create_task(poll())
    await fake.wait_for(lambda: fake.calls("getUpdates"))
    try:
        yield Harness(fake, services, clock, bot, outbox)
    finally:
        await dp.stop_polling()
        await task
        if outbox is not None:
            await outbox.stop()
        await notifier.stop()
        await bot.session.close()


@pytest.fixture
async def h(fake: FakeBotAPI, services: Dependencies, clock: FakeClock) -> AsyncIterator[Harness]:
    limiter = RateLimiter(overall_per_second=1000, per_chat_burst=1000, edit_burst=1000)
    async with running_bot(fake, services, clock, limiter) as harness:
        yield harness
