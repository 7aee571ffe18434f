"""The limiter's buckets: new messages burst, edits have their own lenient budget, and inside
an update a call that would wait too long is deferred (never refused, never dropped)."""

from __future__ import annotations

from typing import Any

from aiogram.methods import EditMessageText, SendMessage, SendPhoto
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from telesip.bot.budget import MemoryBudget, Pace
from telesip.bot.limiter import EDIT, SEND, dump_method, kind_of, load_method


def test_new_messages_burst_then_are_paced() -> None:
    budget = MemoryBudget(Pace(per_chat_per_second=1, per_chat_burst=6))
    assert [budget.delay(7) for _ in range(6)] == [0.0] * 6
    assert 0.9 < budget.delay(7) <= 1.0
    assert budget.delay(8) == 0  # other people are not held up


def test_edits_do_not_use_up_new_messages() -> None:
    budget = MemoryBudget(Pace(per_chat_per_second=1, per_chat_burst=2, edit_burst=20))
    for _ in range(15):
        assert budget.delay(7, EDIT) == 0
    assert budget.delay(7, SEND) == 0
    assert budget.delay(7, SEND) == 0
    assert budget.delay(7, SEND) > 0


def test_which_calls_are_paced() -> None:
    assert kind_of(SendMessage(chat_id=1, text="x")) == SEND
    assert kind_of(EditMessageText(chat_id=1, message_id=2, text="x")) == EDIT
    from aiogram.methods import AnswerCallbackQuery, GetUpdates, SendChatAction

    assert kind_of(AnswerCallbackQuery(callback_query_id="1")) is None
    assert kind_of(GetUpdates()) is None
    assert kind_of(SendChatAction(chat_id=1, action="typing")) is None


def test_a_deferred_call_is_stored_as_json_and_comes_back_the_same() -> None:
    import json

    kb = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="« Back", callback_data="a:list:")]]
    )
    calls: list[Any] = [
        SendMessage(chat_id=5, text="<b>hi</b>", reply_markup=kb),
        SendPhoto(chat_id=5, photo=BufferedInputFile(b"\x89PNG-ish", "q.png"), caption="QR"),
        EditMessageText(chat_id=5, message_id=9, text="edited", reply_markup=kb),
    ]
    for call in calls:
        stored = json.loads(json.dumps(dump_method(call)))  # the outbox's JSON column
        back = load_method(stored)
        assert type(back) is type(call)
        for name, value in call:
            if isinstance(value, BufferedInputFile):
                restored = getattr(back, name)
                assert (restored.data, restored.filename) == (value.data, value.filename)
            else:
                assert getattr(back, name) == value, name
