"""The update journal in long polling (bot/journal.py, services/bot_updates.py): each
getUpdates's batch is journaled in one transaction before aiogram confirms it, an update
Telegram delivers again is skipped, and the rows of handled updates are deleted together, many
in one transaction when the bot is busy. The whole bot suite polls with the journal
(``running_bot``); here what the batches themselves promise, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import func, select

from telesip.bot.app import JournaledDispatcher
from telesip.bot.journal import Journal
from telesip.domain.errors import StorageUnavailable
from telesip.services import bot_updates
from telesip.services.dependencies import Dependencies
from telesip.store import tables

from .conftest import ALICE, BOB, CAROL, Harness

pytestmark = pytest.mark.both_backends


def _update(update_id: int, text: str = "/start") -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": 1001, "type": "private"},
            "from": {"id": 1001, "is_bot": False, "first_name": "Alice"},
            "text": text,
        },
    }


async def _journaled(deps: Dependencies) -> dict[int, bytes]:
    async with deps.engine.connect() as conn:
        b = tables.bot_updates
        rows = await conn.execute(select(b.c.update_id, b.c.payload))
        return {int(r[0]): bytes(r[1]) for r in rows}


async def _until_empty(deps: Dependencies) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while await _journaled(deps):
        assert loop.time() < deadline, "handled updates still journaled"
        await asyncio.sleep(0.02)


async def test_a_batch_is_journaled_once_and_sealed(services: Dependencies) -> None:
    journal = Journal(services)
    assert await journal.keep_many([_update(1), _update(2, "sip:100:s3cr3t@pbx"), _update(3)]) == {
        1,
        2,
        3,
    }
    kept = await _journaled(services)
    assert sorted(kept) == [1, 2, 3]
    assert b"s3cr3t" not in kept[2]  # sealed: a wizard's password is not stored in clear
    # Telegram delivers two of them again with a new one: only the new one is handled
    assert await journal.keep_many([_update(2), _update(3), _update(4)]) == {4}
    assert await Journal(services).keep(_update(4)) is False  # the one-by-one way agrees
    taken = await bot_updates.take_over(services, "next", stale=-3600)
    assert [u["update_id"] for u in taken] == [1, 2, 3, 4]
    assert taken[1] == _update(2, "sip:100:s3cr3t@pbx")  # what was kept is what comes back


async def test_handled_updates_are_forgotten_together(
    services: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(services)
    await journal.keep_many([_update(i) for i in range(1, 11)])
    deletes: list[list[int]] = []
    done_many = bot_updates.done_many

    async def counted(deps: Dependencies, ids: list[int]) -> None:
        deletes.append(list(ids))
        await done_many(deps, ids)

    monkeypatch.setattr(bot_updates, "done_many", counted)
    for i in range(1, 11):  # ten handlers ending in one turn of the loop
        await journal.forget(i)
    await journal.settle()
    assert deletes == [list(range(1, 11))]  # one transaction
    assert await _journaled(services) == {}


async def test_many_handled_at_once_are_all_forgotten(services: Dependencies) -> None:
    journal = Journal(services)
    for first in range(1, 1201, 100):
        await journal.keep_many([_update(i) for i in range(first, first + 100)])
    assert len(await _journaled(services)) == 1200
    for i in range(1, 1201):
        await journal.forget(i)
    await journal.settle()
    assert await _journaled(services) == {}


async def test_a_delete_the_database_missed_is_made_later(
    services: Dependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(services)
    await journal.keep_many([_update(1), _update(2)])

    async def away(deps: Dependencies, ids: list[int]) -> None:
        raise StorageUnavailable()

    with monkeypatch.context() as m:
        m.setattr(bot_updates, "done_many", away)
        await journal.forget(1)
        await journal.forget(2)
        await journal.settle()
    assert sorted(await _journaled(services)) == [1, 2]
    monkeypatch.setattr(bot_updates, "TOUCH_S", 0.01)
    keeper = asyncio.create_task(journal.maintain(lambda update: None))
    try:
        await _until_empty(services)
    finally:
        keeper.cancel()
    assert journal._undeleted == set()


async def test_a_stopping_bot_forgets_nothing_it_did_not_handle(services: Dependencies) -> None:
    journal = Journal(services)
    await journal.keep_many([_update(1), _update(2)])
    await journal.forget(1)
    journal.closing = True  # stopping: update 2's handler was cut short
    await journal.forget(2)
    await journal.settle()
    assert sorted(await _journaled(services)) == [2]


async def test_polling_journals_each_batch_in_one_transaction(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot polling as run_bot does: six messages arriving at once come in one
    getUpdates, are journaled in one transaction (none one by one), are all answered, and
    the journal is empty once they are handled."""
    batches: list[int] = []
    keep_many = bot_updates.keep_many

    async def counted(deps: Dependencies, updates: list[Any], holder: str) -> set[int]:
        batches.append(len(updates))
        return await keep_many(deps, updates, holder)

    async def one_by_one(*args: Any) -> bool:
        raise AssertionError("an update journaled on its own")

    monkeypatch.setattr(bot_updates, "keep_many", counted)
    monkeypatch.setattr(bot_updates, "keep", one_by_one)
    for person in (ALICE, BOB, CAROL, ALICE, BOB, CAROL):  # no await: the long poll wakes
        h.fake.start_chat(person)  # once all six are waiting
        h.fake.send_text(person, "/help")
    await h.fake.wait_for(lambda: sum(batches) >= 6, timeout=10)
    for person in (ALICE, BOB, CAROL):
        await h.fake.wait_for(lambda p=person: len(h.fake.bot_messages(p)) >= 2, timeout=10)
    await _until_empty(h.deps)
    assert max(batches) == 6, batches
    async with h.deps.engine.connect() as conn:
        left = await conn.scalar(select(func.count()).select_from(tables.bot_updates))
    assert left == 0


async def test_polling_journals_each_update_as_its_dump(services: Dependencies) -> None:
    """A batch from getUpdates is journaled serialized by pydantic (``model_dump_json``):
    the journal must hold what the update's dump to a dict holds (aliases such as ``from``,
    no None values, non-ASCII text, a keyboard), as a process taking it over reads it."""
    keyboard = {
        "inline_keyboard": [
            [{"text": "Настройки", "callback_data": "a:settings:7"}],
            [
                {
                    "text": "Transfer",
                    "switch_inline_query_chosen_chat": {"query": "#7", "allow_user_chats": True},
                }
            ],
        ]
    }
    press = {
        "update_id": 3,
        "callback_query": {
            "id": "q1",
            "chat_instance": "c",
            "from": {"id": 1001, "is_bot": False, "first_name": "Алиса", "language_code": "ru"},
            "data": "a:open:7",
            "message": {
                "message_id": 5,
                "date": 1_700_000_000,
                "chat": {"id": 1001, "type": "private"},
                "text": "<b>Карта</b> & «кавычки»",
                "reply_markup": keyboard,
            },
        },
    }
    raw = [_update(1, "Привет, <b>мир</b> & 😀"), _update(2, "sip:100:s3cr3t@pbx"), press]
    updates = [Update.model_validate(u) for u in raw]
    dp = JournaledDispatcher()
    dp.journal = Journal(services)
    await dp.journal_batch(updates)
    kept = await _journaled(services)
    assert sorted(kept) == [1, 2, 3]
    for update in updates:
        expected = update.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert json.loads(services.cipher.unseal(kept[update.update_id])) == expected
    assert b"s3cr3t" not in kept[2]  # sealed


async def test_a_batch_is_journaled_as_telegram_sent_it(services: Dependencies) -> None:
    """Given the updates as Telegram sent them (``BotSession.last_updates``), the journal keeps
    those; an update not among them is serialized from aiogram's object. A process taking them
    over reads the same updates either way."""
    keyboard = {"inline_keyboard": [[{"text": "Настройки", "callback_data": "a:settings:7"}]]}
    press = _update(3, "<b>Карта</b>")
    press["message"]["reply_markup"] = keyboard
    raw = [_update(1, "Привет, <b>мир</b> & 😀"), _update(2, "sip:100:s3cr3t@pbx"), press]
    updates = [Update.model_validate(u) for u in raw]
    dp = JournaledDispatcher()
    dp.journal = Journal(services)
    await dp.journal_batch(updates, [raw[1], raw[0]])  # the third not among them
    kept = await _journaled(services)
    assert json.loads(services.cipher.unseal(kept[1])) == raw[0]
    assert json.loads(services.cipher.unseal(kept[2])) == raw[1]
    dumped = updates[2].model_dump(mode="json", by_alias=True, exclude_none=True)
    assert json.loads(services.cipher.unseal(kept[3])) == dumped
    assert b"s3cr3t" not in kept[2]  # sealed
    taken = await bot_updates.take_over(services, "next", stale=-3600)
    assert [Update.model_validate(u) for u in taken] == updates


async def test_polling_journals_the_updates_telegram_sent(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot polling on its session journals each update as the Bot API sent it."""
    journaled: list[tuple[int, bytes]] = []
    keep_many = bot_updates.keep_many

    async def seen(deps: Dependencies, updates: list[Any], holder: str) -> set[int]:
        journaled.extend(updates)
        return await keep_many(deps, updates, holder)

    monkeypatch.setattr(bot_updates, "keep_many", seen)
    sent = [h.fake.send_text(person, "/help") for person in (ALICE, CAROL)]
    await h.fake.wait_for(lambda: len(journaled) >= 2, timeout=10)
    assert [json.loads(payload)["message"] for _, payload in journaled] == sent
    await _until_empty(h.deps)
