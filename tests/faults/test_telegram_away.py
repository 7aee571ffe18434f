"""Telegram goes away (issue 18, item 3): the fake Bot API answers 502 to every method for a
while, then comes back. Long polling resumes at the right offset, with every update people sent
meanwhile handled exactly once; the outbox's messages and the notifier's notices wait and then
go out in order, none lost, an outage never counting as a failed attempt. In webhook mode, with
Telegram's methods hanging, every delivery is still answered at once and handled once Telegram
answers again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from telesip.bot.app import run_bot
from telesip.bot.limiter import RateLimiter
from telesip.bot.notifier import Notice, Notifier
from telesip.bot.outbox import MAX_ATTEMPTS
from telesip.config import Settings
from telesip.domain.clock import FakeClock
from telesip.services import bot_updates, outbox
from telesip.services.dependencies import Dependencies
from telesip.store import tables
from tests.bot.conftest import ALICE, CAROL, running_bot
from tests.bot.test_app import free_port, running
from tests.fakes import FakeBotAPI

LIMITER = dict(overall_per_second=1000, per_chat_burst=1000, edit_burst=1000)


async def _failed(fake: FakeBotAPI, method: str, at_least: int) -> None:
    """Until the bot has met ``at_least`` failed calls of ``method``."""
    await fake.wait_for(
        lambda: sum(1 for r in fake.requests if r.method == method and not r.ok) >= at_least,
        timeout=30,
    )


async def test_long_polling_resumes_at_the_right_offset_after_an_outage(
    services: Dependencies, fake: FakeBotAPI
) -> None:
    async with running_bot(fake, services, FakeClock(), RateLimiter(**LIMITER)) as h:
        await h.command(ALICE, "/softphone")
        fake.go_away(502)
        await _failed(fake, "getUpdates", 2)  # the bot keeps asking, with its backoff
        for user in (ALICE, CAROL, ALICE):
            fake.send_text(user, "/softphone")
        await asyncio.sleep(0.5)  # no answer can get through meanwhile
        fake.come_back()
        alice = [await fake.next_message(ALICE, timeout=30) for _ in range(2)]
        carol = await fake.next_message(CAROL, timeout=30)
        assert all(m.from_bot for m in [*alice, carol])
        await h.command(ALICE, "/softphone")  # and the bot goes on as before
    assert fake.delivered and set(fake.delivered.values()) == {1}, "an update handled twice"
    assert len(fake.bot_messages(ALICE)) == 4 and len(fake.bot_messages(CAROL)) == 1  # none lost


async def test_the_outbox_and_notices_wait_and_go_out_in_order(
    services: Dependencies, fake: FakeBotAPI, tmp_path: Path
) -> None:
    limiter = RateLimiter(**LIMITER)
    async with running_bot(fake, services, FakeClock(), limiter, recordings=tmp_path) as h:
        assert h.outbox is not None
        h.outbox.away_backoff_max = 0.2  # rounds every 0.2 s at most, not every 30 s
        await h.command(ALICE, "/softphone")  # both have started the bot
        await h.command(CAROL, "/softphone")
        notifier = Notifier(services, h.bot)
        notifier.away_backoff, notifier.away_backoff_max = 0.05, 0.2
        notifier.start()
        try:
            fake.go_away(502)
            n = MAX_ATTEMPTS + 2  # more rounds than a message may fail: an outage does not count
            for i in range(n):
                missed = {"number": f"+1555000{i:02d}", "line_id": i}
                await outbox.put(
                    services, ALICE.id, "text", {"key": "call.missed", "params": missed}
                )
                notifier.tell(
                    Notice(CAROL.id, "call.missed", {"number": f"+7900{i:02d}", "line_id": i})
                )
            await _failed(fake, "sendMessage", 2 * (MAX_ATTEMPTS + 1))
            fake.come_back()
            await fake.wait_for(
                lambda: (
                    len([m for m in fake.bot_messages(ALICE) if "Missed" in m.content]) == n
                    and len(fake.bot_messages(CAROL)) == n + 1
                ),
                timeout=60,
            )
        finally:
            await notifier.stop()
    missed_texts = [m.content for m in fake.bot_messages(ALICE) if "Missed" in m.content]
    assert missed_texts == [
        f"Missed call from +1555000{i:02d} on SIP account #{i}." for i in range(n)
    ]
    notices = [m.content for m in fake.bot_messages(CAROL)][1:]
    assert [x.split("+7900", 1)[1][:2] for x in notices] == [f"{i:02d}" for i in range(n)]
    assert await outbox.due(services) == []


async def test_webhook_mode_answers_at_once_while_telegram_hangs(
    services: Dependencies, fake: FakeBotAPI
) -> None:
    port = free_port()
    settings = Settings(
        bot_token=SecretStr(fake.token),
        bot_api_url=fake.base_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_bind=f"127.0.0.1:{port}",
    )
    async with running(run_bot(services, settings)):
        await fake.wait_for(lambda: fake.webhook_url, timeout=30)
        await fake.wait_for(lambda: fake.calls("setWebhook"), timeout=30)
        fake.send_text(ALICE, "/softphone")
        await fake.next_message(ALICE, timeout=30)
        fake.go_away(hang=True)  # every method hangs: the handlers' replies cannot go out
        for user in (ALICE, CAROL, ALICE):
            fake.send_text(user, "/softphone")
        await fake.wait_for(lambda: len(fake.webhook_answer_times) == 4, timeout=10)
        assert max(fake.webhook_answer_times) < 1.0, fake.webhook_answer_times  # not held
        fake.come_back()
        await fake.wait_for(
            lambda: len(fake.bot_messages(ALICE)) == 3 and len(fake.bot_messages(CAROL)) == 1,
            timeout=30,
        )
    assert set(fake.delivered.values()) == {1}, "an update delivered twice"
    assert len(fake.bot_messages(ALICE)) == 3 and len(fake.bot_messages(CAROL)) == 1  # none lost


async def test_webhook_updates_in_hand_when_the_bot_stops_are_handled_by_the_next_process(
    services: Dependencies, fake: FakeBotAPI, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Webhook mode, Telegram hanging: updates answered to Telegram wait in the bot for
    Telegram's answers. The bot stops (a restart, a deploy) with three of them in hand; once
    Telegram is back the next bot process handles each of them, once (services/bot_updates.py:
    the journal; a stopped holder's rows are taken over after ``STALE_S``, shortened here)."""
    monkeypatch.setattr(bot_updates, "STALE_S", 1.0)
    monkeypatch.setattr(bot_updates, "TOUCH_S", 0.2)
    port = free_port()
    settings = Settings(
        bot_token=SecretStr(fake.token),
        bot_api_url=fake.base_url,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_bind=f"127.0.0.1:{port}",
    )
    async with running(run_bot(services, settings)):
        await fake.wait_for(lambda: fake.calls("setWebhook"), timeout=30)
        fake.send_text(ALICE, "/softphone")
        await fake.next_message(ALICE, timeout=30)
        fake.go_away(hang=True)
        for user in (ALICE, CAROL, ALICE):
            fake.send_text(user, "/softphone")
        await fake.wait_for(lambda: len(fake.webhook_answer_times) == 4, timeout=10)
        assert await _journaled(services) == 3
    assert len(fake.bot_messages(ALICE)) == 1 and not fake.bot_messages(CAROL)  # none answered
    fake.come_back()
    clock.advance(2 * bot_updates.STALE_S)  # the stopped process's rows are left behind
    async with running(run_bot(services, settings)):
        await fake.wait_for(
            lambda: len(fake.bot_messages(ALICE)) == 3 and len(fake.bot_messages(CAROL)) == 1,
            timeout=30,
        )
        await _until_empty(services)
    assert set(fake.delivered.values()) == {1}, "an update delivered twice"
    assert len(fake.bot_messages(ALICE)) == 3 and len(fake.bot_messages(CAROL)) == 1


async def _journaled(services: Dependencies) -> int:
    async with services.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(tables.bot_updates))).scalar_one()
        )


async def _until_empty(services: Dependencies) -> None:
    """Until the journal is empty (every handled update forgotten)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while await _journaled(services):
        assert loop.time() < deadline, "handled updates still journaled"
        await asyncio.sleep(0.05)
