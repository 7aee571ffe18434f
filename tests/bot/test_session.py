"""The bot's session (bot/session.py) encodes a form without files at C speed; the Bot API must
receive exactly the fields aiogram's own session sends (the same names and values once
decoded), and a call with a file still goes as aiogram sends it (multipart)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage, SendPhoto
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    SwitchInlineQueryChosenChat,
)
from aiohttp import FormData

from telesip.bot.session import BotSession, UrlencodedForm, form_body

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
