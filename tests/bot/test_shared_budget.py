"""Several bot processes share one pacing budget through Redis (bot/budget.py's RedisBudget):
a chat's burst and pace, the overall bucket, a 429's hold and the count of calls deferred to the
outbox are the same for every process, so two processes behind one webhook stay within
Telegram's limits together."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from telesip.bot.budget import EDIT, SEND, Pace, RedisBudget
from tests.fakes import FakeBotAPI, FakeUser

REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS)
    try:
        await client.ping()
    except Exception as exc:  # no Redis here
        await client.aclose()
        pytest.skip(f"Redis at 127.0.0.1:6379 does not answer: {exc}")
    name = f"test-pace-{uuid.uuid4().hex[:8]}"
    try:
        yield name
    finally:
        keys = [key async for key in client.scan_iter(f"{name}:*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_two_budgets_share_a_chats_burst_pace_hold_and_deferred_count(prefix: str) -> None:
    # a slow pace (a token every 10 s): a machine that stalls the test for a second changes
    # the waits by at most a second
    pace = Pace(per_chat_per_second=0.1, per_chat_burst=3)
    one, two = RedisBudget.from_url(REDIS, pace, prefix), RedisBudget.from_url(REDIS, pace, prefix)
    try:
        waits = [(await budget.take(7, SEND))[0] for budget in (one, two, one, two, one)]
        assert waits[:3] == [0, 0, 0]  # one burst of 3 between them, not 3 each
        assert 9 < waits[3] <= 10 and 19 < waits[4] <= 20  # then one every 10 s
        assert (await two.take(8, SEND))[0] == 0  # another chat is not held up
        assert (await one.take(7, EDIT))[0] == 0  # edits have their own bucket
        await one.give_back(7, SEND)
        assert 19 < (await two.take(7, SEND))[0] <= 20  # the token given back is used again

        await one.hold(9, SEND, 2.0)  # a 429 seen by one process holds the chat for both
        assert 1 < (await two.take(9, SEND))[0] <= 2.01

        await one.deferred(7, 1)  # deferred by one process: the other queues behind it
        assert (await two.take(7, EDIT))[1] is True
        assert (await two.take(8, EDIT))[1] is False
        await two.deferred(7, -1)  # made by the other process's outbox
        assert (await one.take(7, EDIT))[1] is False
    finally:
        await one.close()
        await two.close()


async def test_one_process_at_a_time_sends_the_outbox(prefix: str) -> None:
    one, two = (RedisBudget.from_url(REDIS, Pace(), prefix) for _ in range(2))
    try:
        assert await one.sender("one", seconds=0.3)
        assert not await two.sender("two", seconds=0.3)  # the turn is taken
        assert await one.sender("one", seconds=0.3)  # its holder renews it
        deadline = asyncio.get_running_loop().time() + 5
        while not await two.sender("two", seconds=0.3):  # one went silent: its turn lapses
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
        assert not await one.sender("one", seconds=0.3)
    finally:
        await one.close()
        await two.close()


async def test_without_redis_each_process_paces_on_its_own_and_sends_no_outbox() -> None:
    budget = RedisBudget.from_url("redis://127.0.0.1:1/0", Pace(per_chat_burst=2), "nowhere")
    try:
        waits = [(await budget.take(7, SEND))[0] for _ in range(3)]
        assert waits[:2] == [0, 0] and waits[2] > 0  # this process's own bucket
        assert budget.away
        await budget.deferred(7, 1)
        assert (await budget.take(7, EDIT))[1] is True  # the order is still kept here
        assert not await budget.sender("one")  # the outbox waits for Redis: none sent twice
    finally:
        await budget.close()


SENDER = """
import asyncio, sys
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from telesip.bot.budget import RedisBudget
from telesip.bot.limiter import RateLimiter

async def main(base_url, token, redis, prefix, chat, name, count):
    limiter = RateLimiter(per_chat_per_second=2, per_chat_burst=3)
    limiter.budget = budget = RedisBudget.from_url(redis, limiter.pace, prefix)
    bot = Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    bot.session.middleware(limiter)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for i in range(int(count)):
        await bot.send_message(int(chat), f"{name} {i}")
    await bot.session.close()
    await budget.close()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_two_bot_processes_keep_one_chats_pace_together(
    fake: FakeBotAPI, prefix: str
) -> None:
    person = FakeUser(4242, "carol")
    fake.start_chat(person)
    since = fake.mark()
    senders = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SENDER,
            fake.base_url,
            fake.token,
            REDIS,
            prefix,
            str(person.id),
            name,
            "6",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        for name in ("first", "second")
    ]
    try:
        for sender in senders:
            assert sender.stdout is not None
            async with asyncio.timeout(120):  # aiogram's import, on a loaded machine
                assert (await sender.stdout.readline()).strip() == b"ready"
        for sender in senders:  # both start sending together
            assert sender.stdin is not None
            sender.stdin.write(b"go\n")
            await sender.stdin.drain()
        for sender in senders:
            async with asyncio.timeout(60):
                assert await sender.wait() == 0
    finally:
        for sender in senders:
            if sender.returncode is None:
                sender.kill()
                await sender.wait()
    sent = [r for r in fake.requests[since:] if r.method == "sendMessage" and r.ok]
    assert sorted(str(r.params["text"]).split()[0] for r in sent) == ["first"] * 6 + ["second"] * 6
    times = sorted(r.at for r in sent)
    # one bucket for the chat: 3 at once, then 2 a second between both processes (each on its
    # own would have sent its 6 within 1.5 s, the 12 together within 1.5 s too); a stalled
    # machine only makes messages later, the 0.3 s allow for a first one that arrived late
    since_first = [at - times[0] for at in times]
    early = [(k, since_first[k]) for k in range(3, 12) if since_first[k] < (k - 2) / 2 - 0.3]
    assert not early, early
    assert since_first[-1] >= 4.2
