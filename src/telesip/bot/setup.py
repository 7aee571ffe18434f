"""What the bot checks and sets up with Telegram when it starts (and ``telesip doctor`` reuses).

- ``inline_mode(bot)`` reads ``getMe``: without ``supports_inline_queries`` the Transfer button
  would open an inline query nobody answers, so ``start_up`` logs an error with the BotFather
  steps (``INLINE_STEPS``) and the bot shows Transfer as a button that tells the administrator
  the same in their language (``views.owner_keyboard``, ``current_inline``).
- ``set_admin_menu_button`` gives an administrator's chat a menu button that opens the Mini App
  (the account table, ``telesip.miniapp``) when the service has a public HTTPS address
  (``TELESIP_PUBLIC_URL``); without one nothing is set and Telegram shows the command list.
- ``start_up(bot)`` also sets, for every catalog language (English also as the default), the
  command menu (the commands /help lists), the description (shown before /start) and the short
  description (the bot's profile).

Each process asks Telegram itself (the answer is the bot's own settings), so nothing is stored.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, MenuButtonWebApp, WebAppInfo

from telesip.bot.locales import LANGUAGES, t

log = logging.getLogger(__name__)

#: the command menu, in the order /help explains them: everyone's, and an administrator's (the
#: office plan: assigning users, settings links, own workers), set for their chat by /help
COMMANDS = ("softphone", "calls", "call", "subscriptions", "help")
ADMIN_COMMANDS = (
    "softphone",
    "calls",
    "call",
    "links",
    "workers",
    "unused",
    "bulk",
    "subscriptions",
    "help",
)

#: English, for the log and ``telesip doctor``; the bot says it in the person's language
INLINE_STEPS = (
    "inline mode is off for @{username}: Transfer cannot work. In Telegram open @BotFather, "
    "send /setinline, choose @{username} and send a placeholder such as 'SIP account'; then "
    "/setinlinefeedback, choose @{username} and 'Enabled' (100%)."
)

_INLINE: ContextVar[bool] = ContextVar("telesip_inline_mode", default=True)


@dataclass(frozen=True)
class BotSetup:
    """What ``getMe`` said: the bot's username and whether inline mode is on."""

    username: str
    inline_mode: bool

    def problems(self) -> list[str]:
        """Setup mistakes, in English (empty when none)."""
        return [] if self.inline_mode else [INLINE_STEPS.format(username=self.username)]


async def inline_mode(bot: Bot) -> BotSetup:
    """Ask Telegram (getMe) whether inline mode is on for this bot."""
    me = await bot.get_me()
    return BotSetup(
        username=me.username or str(me.id), inline_mode=bool(me.supports_inline_queries)
    )


def set_current_inline(on: bool) -> None:
    """For the update being handled: whether Transfer may open an inline query."""
    _INLINE.set(on)


def current_inline() -> bool:
    return _INLINE.get()


def menu(lang: str, admin: bool) -> list[BotCommand]:
    names = ADMIN_COMMANDS if admin else COMMANDS
    return [BotCommand(command=c, description=t(lang, f"cmd.{c}")) for c in names]


async def set_commands(bot: Bot) -> None:
    """Everyone's command menu in every catalog language (English is also the default)."""
    for lang in (None, *LANGUAGES):
        await bot.set_my_commands(menu(lang or "en", admin=False), language_code=lang)


async def set_admin_commands(bot: Bot, chat_id: int, lang: str) -> None:
    """An administrator's menu in their chat (in their language: a chat scope has one)."""
    await bot.set_my_commands(menu(lang, admin=True), scope=BotCommandScopeChat(chat_id=chat_id))


async def set_admin_menu_button(bot: Bot, chat_id: int, lang: str, url: str | None) -> None:
    """The menu button of an administrator's chat opens the Mini App at ``url`` (if any)."""
    if url is None:
        return
    button = MenuButtonWebApp(text=t(lang, "miniapp.menu"), web_app=WebAppInfo(url=url))
    await bot.set_chat_menu_button(chat_id=chat_id, menu_button=button)


async def set_descriptions(bot: Bot) -> None:
    """The description (before /start) and the short one (the profile), per language."""
    for lang in (None, *LANGUAGES):
        await bot.set_my_description(t(lang or "en", "bot.description"), language_code=lang)
        await bot.set_my_short_description(
            t(lang or "en", "bot.short_description"), language_code=lang
        )


async def start_up(bot: Bot) -> BotSetup:
    """Check getMe (logging what is wrong) and set the menu and descriptions."""
    found = await inline_mode(bot)
    for problem in found.problems():
        log.error("bot setup: %s", problem)
    await set_commands(bot)
    await set_descriptions(bot)
    return found
