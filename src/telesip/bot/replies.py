"""Small helpers to show a view (edit the pressed message in place, or send a new one) and to
read a document a person sent."""

from __future__ import annotations

import contextlib
import io

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiohttp import ClientError

from telesip.bot.locales import t
from telesip.bot.session import answer_unread


async def show(query: CallbackQuery, text: str, kb: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message with ``text``; a message that cannot be edited gets a new one."""
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        try:
            with answer_unread():  # the edited message is not read: not built from the answer
                await message.edit_text(text, reply_markup=kb)
            return
        except TelegramBadRequest as exc:
            if "not modified" in exc.message:
                return
    if query.bot is not None and message is not None:
        await query.bot.send_message(message.chat.id, text, reply_markup=kb)


async def delete_quietly(message: Message) -> None:
    """Delete a message (one that carried a password); a failure is not the person's problem."""
    with contextlib.suppress(TelegramBadRequest):
        await message.delete()


async def read_document(message: Message, bot: Bot, lang: str, limit: int) -> bytes | None:
    """The bytes of the document ``message`` carries (``getFile`` and the download), or None
    after telling the person why not: larger than ``limit`` bytes, or Telegram would not give it."""
    doc = message.document
    assert doc is not None
    if doc.file_size is not None and doc.file_size > limit:
        await message.answer(t(lang, "imp.too_big", limit=limit))
        return None
    try:
        file = await bot.get_file(doc.file_id)
        if file.file_path is None:
            raise ClientError("no file path")
        buffer = io.BytesIO()
        await bot.download_file(file.file_path, destination=buffer, timeout=60)
    except (TimeoutError, TelegramAPIError, ClientError, OSError):
        await message.answer(t(lang, "imp.download_failed"))
        return None
    return buffer.getvalue()
