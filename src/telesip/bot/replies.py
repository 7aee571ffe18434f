"""Small helpers to show a view: edit the pressed message in place, or send a new one."""

from __future__ import annotations

import contextlib

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message


async def show(query: CallbackQuery, text: str, kb: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message with ``text``; a message that cannot be edited gets a new one."""
    message = query.message
    if isinstance(message, Message) and message.text is not None:
        try:
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
