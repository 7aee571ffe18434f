"""run_bot as `telesip run` starts it: TELESIP_BOT_API_URL, long polling and webhook mode."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable

import pytest
from pydantic import SecretStr

from telesip.bot.app import HANDLER_LIMIT, run_bot
from telesip.config import Settings
from telesip.services.dependencies import Dependencies
from tests.bot.conftest import ALICE
from tests.fakes import FakeBotAPI


@contextlib.asynccontextmanager
async def running(part: Awaitable[None]) -> AsyncIterator[None]:
    task = asyncio.ensure_future(part)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(bot_username="telesip_test_bot") as server:
        yield server


async def test_long_polling_against_a_custom_bot_api_url(
    fake: FakeBotAPI, services: Dependencies
) -> None:
    settings = Settings(bot_token=SecretStr(fake.token), bot_api_url=fake.base_url)
    async with running(run_bot(services, settings)):
        fake.send_text(ALICE, "/start")
        hello = await fake.next_message(ALICE)
        assert hello.content.startswith("Hello, Alice!")
        assert "/links" in hello.content  # an administrator (office plan): their part of /help
        assert fake.my_commands() == ["softphone", "calls", "call", "subscriptions", "help"]
        assert fake.my_commands("ru") == ["softphone", "calls", "call", "subscriptions", "help"]
        allowed = fake.calls("getUpdates")[0].params["allowed_updates"]
        assert set(allowed) == {"message", "callback_query", "inline_query", "chosen_inline_result"}


async def test_webhook_mode(fake: FakeBotAPI, services: Dependencies) -> None:
    port = free_port()
    settings = Settings(
        bot_token=SecretStr(fake.token),
        bot_api_url=fake.base_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_bind=f"127.0.0.1:{port}",
    )
    async with running(run_bot(services, settings)):
        await fake.wait_for(lambda: fake.webhook_url)
        assert fake.webhook_url == f"http://127.0.0.1:{port}/telegram"
        assert fake.webhook_params.get("secret_token")
        assert fake.webhook_params.get("max_connections") == HANDLER_LIMIT  # bounded handling
        fake.send_text(ALICE, "/help")
        reply = await fake.next_message(ALICE)
        assert "/softphone" in reply.content
    assert not fake.calls("getUpdates")
