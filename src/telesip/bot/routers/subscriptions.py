"""/subscriptions: the caller's plans and seats (R11)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from telesip.bot import views
from telesip.domain.model import TelegramUser
from telesip.services import people
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


@router.message(Command("subscriptions"))
async def subscriptions(
    message: Message, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    await message.answer(views.subscriptions(lang, await people.subscriptions_of(deps, actor)))
