"""The bot's session (bot/session.py) encodes a form without files at C speed; the Bot API must
receive exactly the fields aiogram's own session sends (the same names and values once
decoded), and a call with a file still goes as aiogram sends it (multipart)."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    GetUpdates,
    SendMessage,
    SendPhoto,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    SwitchInlineQueryChosenChat,
    Update,
)
from aiohttp import FormData

from telesip.bot.session import BotSession, UrlencodedForm, answer_unread, form_body, shared
from tests.fakes import FakeBotAPI, FakeUser

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Настройки ⚙️", callback_data="a:settings:7")],
        [
            InlineKeyboardButton(
                text="Transfer",
                switch_inline_query_chosen_chat=SwitchInlineQueryChosenChat(
                    query="#7", allow_user_chats=True, allow_bot_chats=False
                ),
            )
        ],
    ]
)

METHODS: list[Any] = [
    EditMessageText(
        chat_id=500001,
        message_id=5,
        text="<b>Аккаунт #7</b>\n✅ работает & «кавычки» a+b=c%20 100% ~_.-",
        reply_markup=KEYBOARD,
    ),
    AnswerCallbackQuery(callback_query_id="4242", text="Готово", show_alert=True),
    AnswerCallbackQuery(callback_query_id="17"),
    SendMessage(chat_id=-100123, text="plain"),
    SendMessage(chat_id=1, text="x", disable_notification=False),
]


def _fields(body: bytes) -> list[tuple[str, str]]:
    return parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=True)


async def _body(form: FormData) -> bytes:
    payload: Any = form()
    return bytes(payload._value)


async def test_a_form_arrives_as_aiograms_session_sends_it() -> None:
    ours, theirs = BotSession(), AiohttpSession()
    bot = Bot("123:abc", session=ours, default=DefaultBotProperties(parse_mode="HTML"))
    try:
        for method in METHODS:
            form = ours.build_form_data(bot, method)
            assert isinstance(form, UrlencodedForm)
            expected = theirs.build_form_data(bot, method)
            assert not expected.is_multipart
            assert _fields(await _body(form)) == _fields(await _body(expected))
            assert form().content_type == "application/x-www-form-urlencoded"
    finally:
        await ours.close()
        await theirs.close()


def test_names_and_numbers_go_as_they_are_the_rest_percent_encoded() -> None:
    body = form_body([("chat_id", "500001"), ("text", "a b"), ("x", "-1")])
    assert body == b"chat_id=500001&text=%61%20%62&x=%2D%31"
    assert _fields(form_body([("text", "a+b&c=d %")])) == [("text", "a+b&c=d %")]


async def test_a_call_with_a_file_goes_multipart_as_aiogram_sends_it() -> None:
    ours = BotSession()
    bot = Bot("123:abc", session=ours)
    try:
        photo = SendPhoto(chat_id=1, photo=BufferedInputFile(b"\x89PNG", "qr.png"), caption="QR")
        form = ours.build_form_data(bot, photo)
        assert not isinstance(form, UrlencodedForm) and form.is_multipart
    finally:
        await ours.close()


async def test_an_edit_inside_answer_unread_is_made_and_answers_true() -> None:
    """Inside ``answer_unread`` an accepted edit answers True (its edited message is not built)
    and Telegram holds the same message as after aiogram's own way, which answers the message;
    a refused edit raises the same error either way."""
    async with FakeBotAPI(bot_username="telesip_test_bot") as fake:
        person = FakeUser(1001, "Alice")
        fake.start_chat(person)
        session = BotSession(api=TelegramAPIServer.from_base(fake.base_url))
        bot = Bot(fake.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        try:
            _, body = await fake.call("sendMessage", {"chat_id": person.id, "text": "card"})
            message_id = body["result"]["message_id"]
            texts = ["<b>Аккаунт #7</b> &amp; «кавычки»", "<i>second</i>"]
            answers: list[Any] = []
            refusals: list[str] = []
            held: list[Any] = []
            for unread in (True, False):
                for text in texts:
                    edit = EditMessageText(
                        chat_id=person.id, message_id=message_id, text=text, reply_markup=KEYBOARD
                    )
                    with answer_unread() if unread else contextlib.nullcontext():
                        answers.append(await bot(edit))
                        for gone in (edit, edit.model_copy(update={"message_id": 999})):
                            with pytest.raises(TelegramBadRequest) as refused:
                                await bot(gone)  # not modified; not found
                            refusals.append(refused.value.message)
                    shown = fake.message(person, message_id)
                    held.append((shown.text, shown.entities, shown.reply_markup))
            assert held[:2] == held[2:]  # Telegram holds the same either way
            assert held[0][2] == KEYBOARD.model_dump(exclude_none=True)
            assert answers[:2] == [True, True]
            assert [a.text for a in answers[2:]] == ["Аккаунт #7 & «кавычки»", "second"]
            assert all(isinstance(a, Message) for a in answers[2:])
            assert refusals[:4] == refusals[4:]
            assert "not modified" in refusals[0] and "not modified" not in refusals[1]
            assert [r.method for r in fake.requests].count("editMessageText") == 12
        finally:
            await bot.session.close()


async def test_answer_unread_covers_only_the_calls_inside() -> None:
    async with FakeBotAPI(bot_username="telesip_test_bot") as fake:
        person = FakeUser(1001, "Alice")
        fake.start_chat(person)
        session = BotSession(api=TelegramAPIServer.from_base(fake.base_url))
        bot = Bot(fake.token, session=session)
        try:
            with answer_unread():
                assert await bot(SendMessage(chat_id=person.id, text="a")) is True
            sent = await bot(SendMessage(chat_id=person.id, text="b"))
            assert isinstance(sent, Message) and sent.text == "b"
        finally:
            await bot.session.close()


async def test_a_shared_keyboard_arrives_as_aiograms_session_sends_it() -> None:
    """A keyboard views share (``shared``) is prepared once: every call carries the same fields
    as aiogram's session sends, the first and the later ones."""
    ours, theirs = BotSession(), AiohttpSession()
    bot = Bot("123:abc", session=ours, default=DefaultBotProperties(parse_mode="HTML"))
    markup = shared(KEYBOARD.model_copy(deep=True))
    try:
        for text in ("<b>Аккаунт #7</b>", "second", "third"):
            method = EditMessageText(chat_id=1, message_id=5, text=text, reply_markup=markup)
            got = _fields(await _body(ours.build_form_data(bot, method)))
            expected = _fields(await _body(theirs.build_form_data(bot, method)))
            assert sorted(got) == sorted(expected)
            assert dict(got)["reply_markup"] == dict(expected)["reply_markup"]
        plain = EditMessageText(chat_id=1, message_id=5, text="x", reply_markup=KEYBOARD)
        assert sorted(_fields(await _body(ours.build_form_data(bot, plain)))) == sorted(
            _fields(await _body(theirs.build_form_data(bot, plain)))
        )
    finally:
        await ours.close()
        await theirs.close()


def test_a_polled_press_is_read_without_its_messages_keyboard_and_formatting() -> None:
    """Of a polled press, the message under the button reaches aiogram without its keyboard
    and entities (no handler reads them); everything else of the update as sent, other updates
    untouched, and ``last_updates`` keeps them all as Telegram sent them."""
    chat = {"id": 1001, "type": "private"}
    card = {
        "message_id": 5,
        "date": 1_700_000_000,
        "chat": chat,
        "text": "Account #7 works",
        "entities": [{"type": "bold", "offset": 0, "length": 10}],
        "reply_markup": KEYBOARD.model_dump(mode="json", exclude_none=True),
    }
    user = {"id": 1001, "is_bot": False, "first_name": "Alice", "language_code": "ru"}
    press = {
        "update_id": 7,
        "callback_query": {
            "id": "q1",
            "from": user,
            "message": card,
            "chat_instance": "c",
            "data": "a:open:7",
        },
    }
    command = {
        "update_id": 8,
        "message": dict(card, message_id=6, text="/start x", entities=[_COMMAND], **{"from": user}),
    }
    sent = [press, command]
    content = json.dumps({"ok": True, "result": sent})
    session = BotSession()
    bot = Bot("123:abc", session=session)
    updates = session.check_response(bot, GetUpdates(), 200, content).result
    assert session.last_updates == sent == json.loads(content)["result"]  # as sent, untouched
    pressed, written = updates
    message = pressed.callback_query.message
    assert (message.reply_markup, message.entities) == (None, None)
    full = Update.model_validate(press, context={"bot": bot})
    assert pressed.model_dump(exclude={"callback_query": {"message"}}) == full.model_dump(
        exclude={"callback_query": {"message"}}
    )
    assert message.model_dump(exclude={"reply_markup", "entities"}) == (
        full.callback_query.message.model_dump(exclude={"reply_markup", "entities"})
    )
    assert written == Update.model_validate(command, context={"bot": bot})  # not a press
    assert written.message.reply_markup is not None and written.message.entities
    # anything but getUpdates is read as aiogram reads it
    edited = session.check_response(
        bot,
        EditMessageText(text="x", chat_id=1, message_id=5),
        200,
        json.dumps({"ok": True, "result": card}),
    ).result
    assert edited.reply_markup is not None and edited.entities


_COMMAND = {"type": "bot_command", "offset": 0, "length": 6}
