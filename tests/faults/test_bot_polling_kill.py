"""kill -9 of the bot in long polling mode (issue 18, item 3): aiogram confirms an update to
Telegram (the next getUpdates's offset) before its handler runs, so a process killed with
handlers in hand used to lose those updates. Each update is journaled before that getUpdates
(``bot/journal.py``): the next process takes over what the killed one held and handles each
update once, and Telegram delivers none of them again.

The real ``telesip run`` on PostgreSQL against the fake Bot API; Telegram holds the answers to
the bot's replies, so three handlers are in hand (their updates confirmed) when the process is
killed. The test then ages the journal's rows past ``STALE_S`` (the time the next process waits
before it takes over a silent holder's rows) instead of waiting for it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from telesip.domain.clock import SystemClock
from telesip.services import bot_updates
from telesip.store import tables as t
from tests.bot.conftest import ALICE, CAROL
from tests.conftest import TEST_KEY, make_services
from tests.fakes import FakeBotAPI

from .test_kill_points import Service, _free_port, _true


async def test_kill_9_in_long_polling_loses_no_update_and_handles_none_twice(
    request: pytest.FixtureRequest, tmp_path: Path, fake: FakeBotAPI
) -> None:
    deps = await make_services("pg", request, tmp_path, SystemClock())  # type: ignore[arg-type]
    port = _free_port()
    env = os.environ | {
        "TELESIP_DATA_DIR": str(tmp_path),
        "TELESIP_SECRET_KEY": TEST_KEY,
        "TELESIP_BOT_TOKEN": fake.token,
        "TELESIP_BOT_API_URL": fake.base_url,
        "TELESIP_API_BIND": f"127.0.0.1:{port}",
        "TELESIP_SIP_BIND": "127.0.0.1:0",
        "TELESIP_METRICS_BIND": "",
        "TELESIP_DATABASE_URL": deps.engine.url.render_as_string(hide_password=False),
    }
    svc = Service(tmp_path, env, f"http://127.0.0.1:{port}")

    async def journaled() -> int:
        async with deps.engine.connect() as conn:
            query = select(func.count()).select_from(t.bot_updates)
            return int((await conn.execute(query)).scalar_one())

    try:
        for person in (ALICE, CAROL):
            fake.start_chat(person)
        await svc.start()
        await svc.ready(fake)
        fake.hold("sendMessage")  # the replies wait: their handlers are in hand
        for person in (ALICE, CAROL, ALICE):
            fake.send_text(person, "/softphone")
        await svc.until(lambda: _true(len(fake.calls("sendMessage")) == 3), "three in hand")
        last = max(fake.delivered)
        await svc.until(lambda: _true(_offset_past(fake, last)), "the three confirmed")
        assert await journaled() == 3
        await svc.kill()
        fake.release()
        assert not fake.bot_messages(CAROL), "no reply went out before the kill"

        async with deps.engine.begin() as conn:  # the killed holder silent for longer than STALE_S
            ago = datetime.now(UTC) - timedelta(seconds=2 * bot_updates.STALE_S)
            await conn.execute(update(t.bot_updates).values(held_at=ago))
        await svc.start()
        await svc.ready(fake)
        await svc.until(
            lambda: _true(
                len(fake.bot_messages(ALICE)) == 2 and len(fake.bot_messages(CAROL)) == 1
            ),
            "the three updates answered by the next process",
        )
        await svc.until(lambda: _empty(journaled), "the journal empty")
        fake.send_text(ALICE, "/softphone")  # and it goes on as before
        await svc.until(lambda: _true(len(fake.bot_messages(ALICE)) == 3), "answered")
    finally:
        fake.release()
        await svc.stop()
        await deps.engine.dispose()
    assert set(fake.delivered.values()) == {1}, "Telegram delivered an update again"
    assert len(fake.bot_messages(ALICE)) == 3 and len(fake.bot_messages(CAROL)) == 1


def _answered(fake: FakeBotAPI, *, alice: int, carol: int) -> bool:
    return len(fake.bot_messages(ALICE)) == alice and len(fake.bot_messages(CAROL)) == carol


def _offset_past(fake: FakeBotAPI, update_id: int) -> bool:
    return any(int(r.params.get("offset", 0)) > update_id for r in fake.calls("getUpdates"))


async def _empty(journaled) -> bool:  # type: ignore[no-untyped-def]
    return await journaled() == 0
