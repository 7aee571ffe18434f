"""The fake Bot API server, driven by a real aiogram Bot + Dispatcher over HTTP on loopback."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
)
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ChosenInlineResult,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.fakes import FakeBotAPI, FakeUser

ALICE = FakeUser(1001, "Alice", username="alice")
BOB = FakeUser(1002, "Bob", language_code="ru")


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A tiny valid PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Seen:
    """What the test router saw."""

    texts: list[tuple[int, str]] = field(default_factory=list)
    chosen: list[ChosenInlineResult] = field(default_factory=list)


def make_router(seen: Seen) -> Router:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"started with {command.args or '-'}")

    @router.message(Command("photo"))
    async def photo(message: Message) -> None:
        await message.answer_photo(BufferedInputFile(png_bytes(), "qr.png"), caption="QR")

    @router.message(Command("reply"))
    async def reply_in_webhook_response(message: Message) -> SendMessage:
        return message.answer("via webhook reply")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        assert message.from_user is not None and message.text is not None
        seen.texts.append((message.from_user.id, message.text))
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Edit me", callback_data="edit")]]
        )
        await message.answer(
            f"<b>echo</b>: {message.text}", parse_mode="HTML", reply_markup=keyboard
        )

    @router.callback_query(F.data == "edit", F.message)
    async def edit(callback: CallbackQuery) -> None:
        assert isinstance(callback.message, Message)
        await callback.message.edit_text(f"edited by {callback.from_user.first_name}")
        await callback.answer("done", show_alert=True)

    @router.callback_query(F.data == "recv", F.inline_message_id)
    async def receive(callback: CallbackQuery, bot: Bot) -> None:
        await bot.edit_message_text(
            text=f"received by {callback.from_user.first_name}",
            inline_message_id=callback.inline_message_id,
        )
        await callback.answer()

    @router.inline_query()
    async def inline(query: InlineQuery) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Receive", callback_data="recv")]]
        )
        await query.answer(
            [
                InlineQueryResultArticle(
                    id="offer",
                    title=f"Offer {query.query}",
                    input_message_content=InputTextMessageContent(
                        message_text=f"Offer <i>{query.query}</i>", parse_mode="HTML"
                    ),
                    reply_markup=keyboard,
                )
            ],
            cache_time=0,
            is_personal=True,
        )

    @router.chosen_inline_result()
    async def chosen(result: ChosenInlineResult, bot: Bot) -> None:
        seen.chosen.append(result)
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="Receive", callback_data="recv")],
                [InlineKeyboardButton(text="Cancel", callback_data="cancel")],
            ]
        )
        await bot.edit_message_reply_markup(
            inline_message_id=result.inline_message_id, reply_markup=keyboard
        )

    return router


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(bot_username="fake_test_bot") as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    """A Bot for direct calls (not polling)."""
    async with Bot(fake.token, session=fake.session()) as client:
        yield client


@dataclass
class Running:
    bot: Bot
    dp: Dispatcher
    seen: Seen


@pytest.fixture
async def running(fake: FakeBotAPI) -> AsyncIterator[Running]:
    seen = Seen()
    bot = Bot(fake.token, session=fake.session())
    dp = Dispatcher()
    dp.include_router(make_router(seen))
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    await fake.wait_for(lambda: fake.calls("getMe"))  # polling has started
    try:
        yield Running(bot, dp, seen)
    finally:
        await dp.stop_polling()
        await task


async def test_polling_delivers_each_update_once_with_offsets(
    fake: FakeBotAPI, running: Running
) -> None:
    texts = [f"hello {i}" for i in range(5)]
    for text in texts:
        fake.send_text(ALICE, text)
    fake.send_text(BOB, "привет")
    replies = [await fake.next_message(ALICE) for _ in texts]
    bob_reply = await fake.next_message(BOB)

    assert sorted(r.text or "" for r in replies) == sorted(f"echo: {t}" for t in texts)
    assert bob_reply.text == "echo: привет"
    assert bob_reply.entities == [{"type": "bold", "offset": 0, "length": 4}]
    assert bob_reply.button_texts == ["Edit me"]
    await fake.wait_until_delivered()
    assert fake.delivered == dict.fromkeys(range(1, 7), 1)
    assert sorted(running.seen.texts) == sorted(
        [(ALICE.id, t) for t in texts] + [(BOB.id, "привет")]
    )
    offsets = [r.params.get("offset") for r in fake.calls("getUpdates")]
    assert offsets[-1] == 7
    assert all(r.params.get("timeout") == 5 for r in fake.calls("getUpdates"))
    allowed = fake.calls("getUpdates")[0].params["allowed_updates"]
    assert {"message", "callback_query", "inline_query", "chosen_inline_result"} <= set(allowed)
    # message ids are per chat and shared by the person's and the bot's messages
    assert [m.message_id for m in fake.messages(BOB)] == [1, 2]
    assert fake.messages(BOB)[0].sender == BOB


async def test_deep_link_start_payload(fake: FakeBotAPI, running: Running) -> None:
    update_message = fake.send_text(ALICE, "/start TOKEN123")
    assert update_message["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    reply = await fake.next_message(ALICE)
    assert reply.text == "started with TOKEN123"


async def test_callback_edits_message_by_chat_and_message_id(
    fake: FakeBotAPI, running: Running
) -> None:
    fake.send_text(ALICE, "hi")
    echo = await fake.next_message(ALICE)

    answer = await fake.press_button(ALICE, echo, "Edit me")

    assert answer.text == "done" and answer.show_alert
    request = await fake.wait_for_request("editMessageText")
    assert request.params["chat_id"] == ALICE.id and request.params["message_id"] == echo.message_id
    assert echo.text == "edited by Alice"
    assert echo.reply_markup is None  # edit without reply_markup removes the keyboard
    assert echo.history[0]["text"] == "echo: hi"
    assert echo.edit_date is not None
    assert fake.bot_messages(ALICE) == [echo]


async def test_inline_query_choose_result_and_edit_by_inline_message_id(
    fake: FakeBotAPI, running: Running
) -> None:
    answer = await fake.inline_query(ALICE, "#1042", chat_type="private")
    assert answer.titles == ["Offer #1042"]
    assert answer.is_personal and answer.cache_time == 0

    inline = fake.choose_inline_result(ALICE, "#1042", "offer", into_chat_with=BOB)
    assert inline.text == "Offer #1042"
    assert inline.entities == [{"type": "italic", "offset": 6, "length": 5}]
    # the chosen_inline_result handler adds a Cancel button by inline_message_id
    request = await fake.wait_for_request("editMessageReplyMarkup")
    assert request.params["inline_message_id"] == inline.inline_message_id
    assert request.result is True
    assert running.seen.chosen[0].inline_message_id == inline.inline_message_id
    assert running.seen.chosen[0].query == "#1042"
    assert inline.button_texts == ["Receive", "Cancel"]

    callback = await fake.press_inline_button(BOB, inline, "Receive")
    assert callback.text is None
    assert inline.text == "received by Bob"
    assert fake.inline_messages[inline.inline_message_id] is inline
    assert not fake.chats.get(BOB.id)  # inline messages are not in the chat with the bot


async def test_button_checks_and_forged_press(fake: FakeBotAPI, running: Running) -> None:
    fake.send_text(ALICE, "hi")
    echo = await fake.next_message(ALICE)
    with pytest.raises(AssertionError, match="no button"):
        fake.press(ALICE, echo, "not-there")
    forged = fake.press(BOB, echo, "not-there", forged=True)
    assert forged.update["callback_query"]["from"]["id"] == BOB.id
    with pytest.raises(TimeoutError, match="answerCallbackQuery"):
        await forged.wait(timeout=0.3)  # nobody handles it


async def test_retry_after_and_forbidden(fake: FakeBotAPI, bot: Bot) -> None:
    fake.start_chat(ALICE)
    fake.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ALICE.id, "x")
    assert caught.value.retry_after == 3
    assert fake.requests[-1].error_code == 429

    sent = await bot.send_message(ALICE.id, "x")
    assert sent.message_id == 1

    fake.fail_next("sendMessage", error_code=403)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(ALICE.id, "x")

    fake.block_bot(ALICE)
    with pytest.raises(TelegramForbiddenError, match="blocked by the user"):
        await bot.send_message(ALICE.id, "x")

    fake.inline_query(BOB, "q")  # Bob is known but never started the bot
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(BOB.id, "x")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "x")


async def test_send_photo_multipart(fake: FakeBotAPI, running: Running) -> None:
    fake.send_text(ALICE, "/photo")
    message = await fake.next_message(ALICE)
    assert message.photo is not None and message.caption == "QR"
    assert message.photo.data == png_bytes()
    assert (message.photo.width, message.photo.height) == (3, 2)
    assert message.photo.filename == "qr.png"
    assert fake.photos == [message.photo]
    # a photo can be re-sent by its file_id
    again = await running.bot.send_photo(ALICE.id, message.photo.file_id)
    assert again.photo is not None and again.photo[-1].file_id == message.photo.file_id


async def test_commands_and_misc_methods(fake: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "fake_test_bot" and me.supports_inline_queries
    assert me.id == int(fake.token.split(":")[0])
    commands = [BotCommand(command="softphone", description="Accounts")]
    assert await bot.set_my_commands(commands, language_code="ru")
    assert fake.my_commands("ru") == ["softphone"]
    got = await bot.get_my_commands(language_code="ru")
    assert [(c.command, c.description) for c in got] == [("softphone", "Accounts")]
    assert await bot.delete_my_commands(language_code="ru")
    assert fake.my_commands("ru") == []
    assert await bot.delete_webhook(drop_pending_updates=True)
    fake.start_chat(ALICE)
    assert await bot.send_chat_action(ALICE.id, "typing")
    sent = await bot.send_message(ALICE.id, "a")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("a", chat_id=ALICE.id, message_id=sent.message_id)
    assert await bot.delete_message(ALICE.id, sent.message_id)
    assert fake.message(ALICE, sent.message_id).deleted
    assert fake.bot_messages(ALICE) == []
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ALICE.id, "1.5", parse_mode="MarkdownV2")
    fake.fail_next("getMe", error_code=404)
    with pytest.raises(TelegramNotFound):
        await bot.get_me()


async def test_raw_http_errors_and_body_encodings(fake: FakeBotAPI) -> None:
    fake.start_chat(ALICE)
    async with aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/bot{fake.token}"
        async with http.post(f"{url}/noSuchMethod") as resp:
            assert resp.status == 404
            assert await resp.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with http.post(f"{fake.base_url}/bot1:wrong/getMe") as resp:
            assert resp.status == 401
            assert (await resp.json())["description"] == "Unauthorized"
        markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        async with http.post(
            f"{url}/sendMessage", json={"chat_id": ALICE.id, "text": "json", "reply_markup": markup}
        ) as resp:
            body = await resp.json()
            assert body["ok"] and body["result"]["reply_markup"] == markup
        form = {"chat_id": str(ALICE.id), "text": "123", "reply_markup": json.dumps(markup)}
        async with http.post(f"{url}/sendMessage", data=form) as resp:
            body = await resp.json()
            assert body["result"]["text"] == "123"  # text stays a string
    assert [m.text for m in fake.bot_messages(ALICE)] == ["json", "123"]
    assert fake.bot_messages(ALICE)[1].reply_markup == markup


async def test_webhook_mode_delivers_updates_and_executes_webhook_replies(
    fake: FakeBotAPI, bot: Bot
) -> None:
    seen = Seen()
    dp = Dispatcher()
    dp.include_router(make_router(seen))
    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="s3cret").register(
        app, path="/hook"
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        fake.send_text(ALICE, "over a webhook")
        assert (await fake.next_message(ALICE)).text == "echo: over a webhook"
        fake.send_text(ALICE, "/reply")
        reply = await fake.next_message(ALICE)
        assert reply.text == "via webhook reply"
        assert fake.requests[-1].via == "webhook-reply"
        async with aiohttp.ClientSession() as http:
            url = f"{fake.base_url}/bot{fake.token}/getUpdates"
            async with http.post(url) as resp:
                assert resp.status == 409  # getUpdates is refused while a webhook is set
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()
