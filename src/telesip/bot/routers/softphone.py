"""/softphone (R1) and the account card: settings, disable/enable, take back (R2), delete
(R10, or return for an assigned user), send back from the card (R8 for an assigned account).

Every press names an account id only; the service decides whether the presser may act on it.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from telesip.bot import views
from telesip.bot.callbacks import AccountCb
from telesip.bot.locales import t
from telesip.bot.replies import show
from telesip.bot.routers.new_account import EditLine
from telesip.domain.model import Role, TelegramUser
from telesip.services import accounts, offers, people
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


@router.message(Command("softphone"))
async def softphone(
    message: Message,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    miniapp_url: str | None = None,
) -> None:
    await state.clear()  # a command leaves an unfinished wizard
    text, kb = views.softphone(lang, await accounts.softphone(deps, actor), table_url=miniapp_url)
    await message.answer(text, reply_markup=kb)


@router.message(Command("unused"))
async def unused(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    """R11: the actor's unused accounts, each with a one-press Disable."""
    await state.clear()
    found = await accounts.unused(deps, actor)
    text, kb = views.unused(lang, found, deps.rules.unused_days)
    await message.answer(text, reply_markup=kb)


@router.callback_query(AccountCb.filter(F.act == "open"))
async def open_card(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """Open an account's card: the press made most, so its handler is the router's first for
    callbacks (aiogram unpacks the callback data for each handler it tries)."""
    card = await accounts.get_card(deps, actor, callback_data.id, settings=False)
    await query.answer()
    await show(query, *views.card(lang, card))


@router.callback_query(AccountCb.filter(F.act == "udisable"))
async def disable_unused(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """Disable from /unused (the owner only: ``set_enabled`` checks), then the list again."""
    await accounts.set_enabled(deps, actor, callback_data.id, False)
    await query.answer(t(lang, "unused.disabled", id=callback_data.id))
    found = await accounts.unused(deps, actor)
    await show(query, *views.unused(lang, found, deps.rules.unused_days))


@router.callback_query(AccountCb.filter(F.act == "list"))
async def back_to_list(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    miniapp_url: str | None = None,
) -> None:
    """The list again (``id`` is the page: Back from a card is page 0, Previous/Next others)."""
    await query.answer()
    found = await accounts.softphone(deps, actor)
    await show(query, *views.softphone(lang, found, page=callback_data.id, table_url=miniapp_url))


async def _card(
    query: CallbackQuery, deps: Dependencies, actor: TelegramUser, lang: str, i: int
) -> None:
    await show(query, *views.card(lang, await accounts.get_card(deps, actor, i, settings=False)))


@router.callback_query(AccountCb.filter(F.act == "noinline"))
async def inline_off(query: CallbackQuery, bot: Bot, lang: str) -> None:
    """Transfer while inline mode is off in BotFather: tell the administrator how to turn it on."""
    me = await bot.me()
    await query.answer()
    if query.message is not None:
        await bot.send_message(
            query.message.chat.id, t(lang, "setup.inline_off", username=me.username)
        )


@router.callback_query(AccountCb.filter(F.act.in_({"disable", "enable"})))
async def toggle(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    enable = callback_data.act == "enable"
    await accounts.set_enabled(deps, actor, callback_data.id, enable)
    await query.answer(t(lang, "card.enabled" if enable else "card.disabled"))
    await _card(query, deps, actor, lang, callback_data.id)


@router.callback_query(AccountCb.filter(F.act == "takeback"))
async def take_back(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    previous = await accounts.take_back(deps, actor, callback_data.id)
    user = await people.get_user(deps, previous)
    await query.answer(t(lang, "card.taken_back", user=user.label if user else previous))
    await _card(query, deps, actor, lang, callback_data.id)


@router.callback_query(AccountCb.filter(F.act == "delete"))
async def ask_delete(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    role = await people.role_on(deps, actor, callback_data.id)
    await query.answer()
    await show(query, *views.confirm_delete(lang, callback_data.id, role))


@router.callback_query(AccountCb.filter(F.act == "delete_ok"))
async def delete(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    deleted = await accounts.delete_account(deps, actor, callback_data.id)
    text = t(lang, "card.deleted" if deleted else "card.returned", id=callback_data.id)
    await query.answer(text)
    await show(query, *views.softphone(lang, await accounts.softphone(deps, actor)))


@router.callback_query(AccountCb.filter(F.act == "sendback"))
async def ask_send_back(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    if await people.role_on(deps, actor, callback_data.id) is not Role.USER:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    await query.answer()
    await show(query, *views.confirm_card_send_back(lang, callback_data.id))


@router.callback_query(AccountCb.filter(F.act == "sendback_ok"))
async def send_back(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    if await people.role_on(deps, actor, callback_data.id) is not Role.USER:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    await offers.send_back(deps, actor, callback_data.id)
    await query.answer(t(lang, "card.returned", id=callback_data.id))
    await show(query, *views.softphone(lang, await accounts.softphone(deps, actor)))


@router.callback_query(AccountCb.filter(F.act == "settings"))
async def settings(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    card = await accounts.get_card(deps, actor, callback_data.id)
    if card.settings is None:  # an assigned user sees no settings (R5)
        await query.answer(
            t(lang, "error.assigned_user", account_id=card.summary.id), show_alert=True
        )
        return
    await query.answer()
    await show(query, *views.settings(lang, callback_data.id, card.settings))


@router.callback_query(AccountCb.filter(F.act.in_({"tr_udp", "tr_tcp", "tr_tls"})))
async def set_transport(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    transport = callback_data.act.removeprefix("tr_")
    new = await accounts.update_settings(deps, actor, callback_data.id, transport=transport)
    await query.answer(t(lang, "set.saved"))
    await show(query, *views.settings(lang, callback_data.id, new.public_dict()))


@router.callback_query(AccountCb.filter(F.act.in_({"rec_on", "rec_off"})))
async def set_recording(
    query: CallbackQuery,
    callback_data: AccountCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """The button names the state wanted, so a press on an older screen cannot flip it back."""
    record = callback_data.act == "rec_on"
    new = await accounts.update_settings(deps, actor, callback_data.id, record=record)
    await query.answer(t(lang, "rec.turned_on" if record else "rec.turned_off"))
    await show(query, *views.settings(lang, callback_data.id, new.public_dict()))


@router.callback_query(AccountCb.filter(F.act == "edit"))
async def edit_line(
    query: CallbackQuery,
    callback_data: AccountCb,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    await people.role_on(deps, actor, callback_data.id)
    await state.set_state(EditLine.line)
    await state.set_data({"account_id": callback_data.id})
    await query.answer()
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id,
            t(lang, "new.edit_line", id=callback_data.id) + "\n\n" + t(lang, "set.hint"),
            reply_markup=views.cancel_kb(lang),
        )
