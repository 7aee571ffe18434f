"""/start (with a settings-link payload, R9, or an API offer's payload, R3) and /help."""

from __future__ import annotations

from html import escape

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from telesip.bot.locales import t
from telesip.domain.model import TelegramUser
from telesip.services import links, offers, people
from telesip.services.context import Services

router = Router(name=__name__)

#: the deep-link payload of the inline-mode "why no result" button
HELP_PAYLOAD = "help"
#: deep links of offers made through the HTTP API: t.me/<bot>?start=o_<token>
OFFER_PREFIX = "o_"


def _help(lang: str, s: Services) -> str:
    return t(lang, "help", minutes=max(1, s.rules.offer_ttl_seconds // 60))


@router.message(CommandStart(deep_link=True))
async def start_with_link(
    message: Message, command: CommandObject, s: Services, actor: TelegramUser, lang: str
) -> None:
    """R9: the first person to open a settings link gets the account assigned."""
    if command.args == HELP_PAYLOAD:  # the button above inline results that explain a refusal
        await message.answer(_help(lang, s))
        return
    if (command.args or "").startswith(OFFER_PREFIX):  # an offer made through the HTTP API
        got = await offers.receive_by_token(s, actor, (command.args or "")[len(OFFER_PREFIX) :])
        sender = await people.get_user(s, got.sender_id)
        await message.answer(
            t(
                lang,
                f"offer.received.{got.method.value}",
                id=got.account_id,
                sender=escape(sender.label if sender else str(got.sender_id)),
                recipient=escape(actor.label),
            )
        )
        return
    opened = await links.open_link(s, actor, command.args or "")
    owner = await people.get_user(s, opened.owner_id)
    await message.answer(
        t(
            lang,
            "link.opened",
            account_id=opened.account_id,
            owner=escape(owner.label if owner else str(opened.owner_id)),
        )
    )


@router.message(CommandStart())
async def start(message: Message, s: Services, actor: TelegramUser, lang: str) -> None:
    await people.remember(s, actor)
    await message.answer(
        t(lang, "start.hello", name=escape(actor.first_name or actor.label), help=_help(lang, s))
    )


@router.message(Command("help"))
async def help_(message: Message, s: Services, lang: str) -> None:
    await message.answer(_help(lang, s))
