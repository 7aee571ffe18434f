"""The New-account wizard: server templates, Redis, and no secret at rest or in logs."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisStorage
from sqlalchemy import select

from telesip.bot.app import build_dispatcher
from telesip.bot.storage import DatabaseStorage
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from tests.bot.conftest import ALICE, Harness, tg
from tests.fakes import FakeBotAPI

SECRET = "Wizard-Pa55-xyz"


async def start_wizard(h: Harness) -> None:
    listing = await h.command(ALICE, "/softphone")
    await h.fake.press(ALICE, listing, "n:start:")
    await h.fake.next_message(ALICE)
    h.fake.send_text(ALICE, "300")
    await h.fake.next_message(ALICE)


@pytest.mark.both_backends
async def test_password_is_never_stored_in_clear_nor_logged(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_wizard(h)
    h.fake.send_text(ALICE, SECRET)
    server_prompt = await h.fake.next_message(ALICE)
    async with h.deps.engine.connect() as conn:
        rows = (await conn.execute(select(t.bot_fsm))).all()
    assert rows and all(SECRET not in str(row) for row in rows)
    assert "password" in rows[0].data and rows[0].state == "NewAccount:server"
    assert server_prompt.button_texts[:3] == ["Zadarma", "Sipnet", "VoIP.ms"]
    await h.fake.press_button(ALICE, server_prompt, "Zadarma")
    card = await h.fake.next_message(ALICE)
    assert "Server: sip.zadarma.com" in card.content and "Login: 300" in card.content
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert all(SECRET not in str(r.params) for r in h.fake.requests)
    async with h.deps.engine.connect() as conn:
        assert (await conn.execute(select(t.bot_fsm))).all() == []  # conversation over


async def test_database_storage_round_trip(services: Dependencies) -> None:
    storage = DatabaseStorage(services)
    key = StorageKey(bot_id=1, chat_id=2, user_id=3)
    assert await storage.get_state(key) is None and await storage.get_data(key) == {}
    await storage.set_state(key, "S:one")
    await storage.set_data(key, {"a": 1})
    fresh = DatabaseStorage(services)  # another process after a restart
    assert await fresh.get_state(key) == "S:one" and await fresh.get_data(key) == {"a": 1}
    await fresh.set_state(key, None)
    await fresh.set_data(key, {})
    assert await DatabaseStorage(services).get_state(key) is None


@pytest.fixture
async def redis_h(fake: FakeBotAPI, services: Dependencies) -> AsyncIterator[Harness]:
    storage = RedisStorage.from_url("redis://127.0.0.1:6379/0")
    try:
        await storage.redis.ping()
    except Exception as exc:  # no Redis here
        await storage.close()
        pytest.skip(f"Redis at 127.0.0.1:6379 does not answer: {exc}")
    storage.key_builder.prefix = f"test-{uuid.uuid4().hex[:8]}"  # type: ignore[attr-defined]
    bot = Bot(fake.token, session=fake.session(), default=DefaultBotProperties(parse_mode="HTML"))
    dp = build_dispatcher(services, storage)
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    await fake.wait_for(lambda: fake.calls("getUpdates"))
    try:
        yield Harness(fake, services, services.clock, bot)  # type: ignore[arg-type]
    finally:
        await dp.stop_polling()
        await task
        await bot.session.close()
        await storage.close()


async def test_wizard_with_redis_storage(redis_h: Harness) -> None:
    fake = redis_h.fake
    await start_wizard(redis_h)
    fake.send_text(ALICE, SECRET)
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "pbx.example.net")
    proxy = await fake.next_message(ALICE)
    await fake.press_button(ALICE, proxy, "Skip")
    await fake.wait_for(lambda: "Transport" in proxy.content)
    await fake.press_button(ALICE, proxy, "TLS")
    card = await fake.next_message(ALICE)
    assert "Server: pbx.example.net (TLS)" in card.content
    assert len((await accounts.softphone(redis_h.deps, tg(ALICE))).owned) == 1
