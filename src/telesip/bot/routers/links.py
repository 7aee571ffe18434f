"""/links (R9): create a settings link for an account (t.me deep link and a QR code), list the
links with their state, revoke one. Opening a link is /start with its token (routers.start).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from telesip.bot import views
from telesip.bot.callbacks import LinkCb
from telesip.bot.locales import t
from telesip.bot.qr import qr_png
from telesip.bot.replies import show
from telesip.domain.model import SettingsLink, TelegramUser
from telesip.services import accounts, links
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


@router.message(Command("links"))
async def list_links(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    await state.clear()  # a command leaves an unfinished wizard
    found = await links.list_links(deps, actor)
    text, kb = views.links(lang, found, deps.clock.now())
    await message.answer(text, reply_markup=kb)


@router.callback_query(LinkCb.filter(F.act == "new"))
async def pick(
    query: CallbackQuery, callback_data: LinkCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    owned = await accounts.softphone(deps, actor)
    free = [a for a in owned.owned if not a.assigned]
    await query.answer()
    await show(query, *views.pick_account(lang, free, page=callback_data.id))


@router.callback_query(LinkCb.filter(F.act == "page"))
async def page(
    query: CallbackQuery, callback_data: LinkCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    found = await links.list_links(deps, actor)
    await query.answer()
    await show(query, *views.links(lang, found, deps.clock.now(), page=callback_data.id))


@router.callback_query(LinkCb.filter(F.act == "make"))
async def make(
    query: CallbackQuery,
    callback_data: LinkCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    link, listed = await links.create_link_listed(deps, actor, callback_data.id)
    await query.answer()
    await show(query, *views.links(lang, listed, deps.clock.now()))
    if query.message is not None:
        await send_link(bot, query.message.chat.id, lang, link)


async def send_link(bot: Bot, chat_id: int, lang: str, link: SettingsLink) -> None:
    """The deep link as text, then its QR code (sendPhoto)."""
    me = await bot.me()
    url = f"https://t.me/{me.username}?start={link.token}"
    until = link.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    await bot.send_message(
        chat_id, t(lang, "links.created", id=link.account_id, url=url, until=until)
    )
    await bot.send_photo(
        chat_id,
        BufferedInputFile(qr_png(url), filename=f"link-{link.account_id}.png"),
        caption=t(lang, "links.qr", id=link.account_id),
    )


@router.callback_query(LinkCb.filter(F.act == "revoke"))
async def revoke(
    query: CallbackQuery, callback_data: LinkCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    await links.revoke_link(deps, actor, callback_data.id)
    await query.answer(t(lang, "links.revoked"))
    await show(query, *views.links(lang, await links.list_links(deps, actor), deps.clock.now()))
