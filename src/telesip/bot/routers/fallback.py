"""Anything no other router took: a hint to /help, and stale buttons get an alert."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from telesip.bot.locales import t

router = Router(name=__name__)


@router.callback_query()
async def stale_button(query: CallbackQuery, lang: str) -> None:
    await query.answer(t(lang, "stale"), show_alert=True)


@router.message()
async def unknown(message: Message, lang: str) -> None:
    await message.answer(t(lang, "unknown_text"))
