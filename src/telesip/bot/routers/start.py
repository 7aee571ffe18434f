"""/start (with a settings-link payload, R9, or an API offer's payload, R3) and /help.

/help (and /start) explain what this person can do: everyone's part (calls, /softphone, /calls,
/subscriptions) and, for an administrator (a plan that may assign), the administrator's part
(/links, /workers, assigning); an administrator's chat gets the matching command menu.
"""

from __future__ import annotations

from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from telesip.bot.locales import t
from telesip.bot.setup import set_admin_commands, set_admin_menu_button
from telesip.domain.model import TelegramUser
from telesip.services import links, offers, people
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)

#: the deep-link payload of the inline-mode "why no result" button
HELP_PAYLOAD = "help"
#: deep links of offers made through the HTTP API: t.me/<bot>?start=o_<token>
OFFER_PREFIX = "o_"


async def help_text(deps: Dependencies, actor: TelegramUser, lang: str) -> tuple[str, bool]:
    """/help for this person's role: everyone's part, and the administrator's (office plan)."""
    admin = (await people.subscriptions_of(deps, actor)).entitlements.can_assign
    text = t(lang, "help", minutes=max(1, deps.rules.offer_ttl_seconds // 60))
    return (text + t(lang, "help.admin") if admin else text), admin


async def _send_help(
    message: Message,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    prefix: str = "",
    miniapp_url: str | None = None,
) -> None:
    text, admin = await help_text(deps, actor, lang)
    await message.answer(prefix + text)
    if admin:  # their menu lists what their /help does; the menu button opens their table
        await set_admin_commands(bot, message.chat.id, lang)
        await set_admin_menu_button(bot, message.chat.id, lang, miniapp_url)


@router.message(CommandStart(deep_link=True))
async def start_with_link(
    message: Message,
    command: CommandObject,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """R9: the first person to open a settings link gets the account assigned."""
    if command.args == HELP_PAYLOAD:  # the button above inline results that explain a refusal
        await _send_help(message, bot, deps, actor, lang)
        return
    if (command.args or "").startswith(OFFER_PREFIX):  # an offer made through the HTTP API
        got = await offers.receive_by_token(deps, actor, (command.args or "")[len(OFFER_PREFIX) :])
        sender = await people.get_user(deps, got.sender_id)
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
    opened = await links.open_link(deps, actor, command.args or "")
    owner = await people.get_user(deps, opened.owner_id)
    await message.answer(
        t(
            lang,
            "link.opened",
            account_id=opened.account_id,
            owner=escape(owner.label if owner else str(opened.owner_id)),
        )
    )


@router.message(CommandStart())
async def start(
    message: Message,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    miniapp_url: str | None = None,
) -> None:
    await people.remember(deps, actor)
    hello = t(lang, "start.hello", name=escape(actor.first_name or actor.label))
    await _send_help(message, bot, deps, actor, lang, hello + "\n\n", miniapp_url)


@router.message(Command("help"))
async def help_(
    message: Message,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    miniapp_url: str | None = None,
) -> None:
    await _send_help(message, bot, deps, actor, lang, miniapp_url=miniapp_url)
