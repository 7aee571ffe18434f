"""New SIP account: step by step (login, password, server or a server template, optional
outbound proxy, transport) or the one-line shortcut
``sip:LOGIN:PASSWORD@SERVER[:PORT][;transport=...]`` at any step; also the owner's one-line
change of an existing account's settings.

A message carrying a password is deleted as soon as it is read. Between steps the password is
kept in the conversation state only encrypted with the service key. Bad input gets the reason
and the same prompt again.
"""

from __future__ import annotations

import base64
from typing import Any

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from telesip.bot import views
from telesip.bot.callbacks import NewCb
from telesip.bot.locales import error_text, t
from telesip.bot.replies import delete_quietly, show
from telesip.bot.routers.links import send_link
from telesip.bot.settings_input import parse_changes
from telesip.domain.errors import InvalidSettings
from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret, parse_shortcut, validate_host
from telesip.services import accounts, links, templates
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


class NewAccount(StatesGroup):
    login = State()
    password = State()
    server = State()
    proxy = State()
    transport = State()


class EditLine(StatesGroup):
    line = State()


def _looks_like_shortcut(text: str) -> bool:
    return text.strip().lower().startswith(("sip:", "sips:"))


def _seal(deps: Dependencies, password: str) -> str:
    return base64.b64encode(deps.cipher.encrypt(Secret(password))).decode()


def _unseal(deps: Dependencies, sealed: str) -> Secret:
    return deps.cipher.decrypt(base64.b64decode(sealed))


async def _created(
    message: Message,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    settings: AccountSettings,
    state: FSMContext,
) -> None:
    if (await state.get_data()).get("for_link"):  # R9: straight into a settings link
        link = await links.create_link_from_settings(deps, actor, settings)
        await state.clear()
        if message.bot is not None:
            await send_link(message.bot, message.chat.id, lang, link)
        return
    account_id = await accounts.create_account(deps, actor, settings)
    await state.clear()
    card = await accounts.get_card(deps, actor, account_id)
    text, kb = views.card(lang, card)
    await message.answer(t(lang, "new.created", id=account_id) + "\n\n" + text, reply_markup=kb)


@router.callback_query(NewCb.filter(F.act == "start"))
async def start(
    query: CallbackQuery,
    callback_data: NewCb,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    for_link = callback_data.value == "link"
    await accounts.check_room(deps, actor, for_link=for_link)  # no free seat: said now, not later
    await state.set_state(NewAccount.login)
    await state.set_data({"for_link": for_link})
    await query.answer()
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id, t(lang, "new.login"), reply_markup=views.cancel_kb(lang)
        )


@router.callback_query(NewCb.filter(F.act == "cancel"))
async def cancel(query: CallbackQuery, state: FSMContext, lang: str) -> None:
    await state.clear()
    await query.answer()
    await show(query, t(lang, "new.cancelled"))


async def _shortcut(
    message: Message,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    state: FSMContext,
    prompt: str,
) -> None:
    text = message.text or ""
    await delete_quietly(message)  # it carries the password
    try:
        settings = parse_shortcut(text)
    except InvalidSettings as exc:
        await message.answer(t(lang, "new.bad", error=error_text(lang, exc)) + "\n\n" + prompt)
        return
    await _created(message, deps, actor, lang, settings, state)


@router.message(NewAccount.login, F.text)
async def got_login(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    text = (message.text or "").strip()
    if _looks_like_shortcut(text):
        await _shortcut(message, deps, actor, lang, state, t(lang, "new.login"))
        return
    try:
        AccountSettings(login=text, password=Secret("x"), domain="example.com").validated()
    except InvalidSettings as exc:
        await message.answer(
            t(lang, "new.bad", error=error_text(lang, exc)) + "\n\n" + t(lang, "new.login"),
            reply_markup=views.cancel_kb(lang),
        )
        return
    await state.update_data(login=text)
    await state.set_state(NewAccount.password)
    await message.answer(t(lang, "new.password"), reply_markup=views.cancel_kb(lang))


@router.message(NewAccount.password, F.text)
async def got_password(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    text = message.text or ""
    await delete_quietly(message)
    try:
        AccountSettings(login="x", password=Secret(text), domain="example.com").validated()
    except InvalidSettings as exc:
        await message.answer(
            t(lang, "new.bad", error=error_text(lang, exc)) + "\n\n" + t(lang, "new.password"),
            reply_markup=views.cancel_kb(lang),
        )
        return
    await state.update_data(password=_seal(deps, text))
    await state.set_state(NewAccount.server)
    await message.answer(t(lang, "new.server"), reply_markup=await _server_kb(deps, actor, lang))


async def _server_kb(deps: Dependencies, actor: TelegramUser, lang: str) -> InlineKeyboardMarkup:
    found = [x for x in await templates.list_templates(deps, user_id=actor.id) if x.domain][:8]
    return views.templates_kb(lang, [(x.id, x.name) for x in found])


def _split_host_port(text: str) -> tuple[str, int | None]:
    host, sep, port = text.strip().rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host, int(port)
    return text.strip(), None


@router.message(NewAccount.server, F.text)
async def got_server(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    text = message.text or ""
    if _looks_like_shortcut(text):
        await _shortcut(message, deps, actor, lang, state, t(lang, "new.server"))
        return
    host, port = _split_host_port(text)
    try:
        domain = validate_host(host)
        if port is not None and not 1 <= port <= 65535:
            raise InvalidSettings(reason="port must be between 1 and 65535")
    except InvalidSettings as exc:
        await message.answer(
            t(lang, "new.bad", error=error_text(lang, exc)) + "\n\n" + t(lang, "new.server"),
            reply_markup=await _server_kb(deps, actor, lang),
        )
        return
    await state.update_data(domain=domain, port=port)
    await state.set_state(NewAccount.proxy)
    await message.answer(t(lang, "new.proxy"), reply_markup=views.skip_kb(lang))


@router.callback_query(NewAccount.server, NewCb.filter(F.act == "tpl"))
async def got_template(
    query: CallbackQuery,
    callback_data: NewCb,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    template = await templates.get_template(deps, callback_data.value)
    data = await state.get_data()
    settings = AccountSettings(
        login=data["login"], password=_unseal(deps, data["password"]), **template.settings_fields()
    )
    await query.answer()
    if isinstance(query.message, Message):
        await _created(query.message, deps, actor, lang, settings, state)


@router.message(NewAccount.proxy, F.text)
async def got_proxy(message: Message, state: FSMContext, lang: str) -> None:
    try:
        proxy = validate_host(_split_host_port(message.text or "")[0], what="outbound proxy")
    except InvalidSettings as exc:
        await message.answer(
            t(lang, "new.bad", error=error_text(lang, exc)) + "\n\n" + t(lang, "new.proxy"),
            reply_markup=views.skip_kb(lang),
        )
        return
    await state.update_data(outbound_proxy=proxy)
    await state.set_state(NewAccount.transport)
    await message.answer(t(lang, "new.transport"), reply_markup=views.transport_kb(lang))


@router.callback_query(NewAccount.proxy, NewCb.filter(F.act == "skip"))
async def skip_proxy(query: CallbackQuery, state: FSMContext, lang: str) -> None:
    await state.set_state(NewAccount.transport)
    await query.answer()
    await show(query, t(lang, "new.transport"), views.transport_kb(lang))


@router.callback_query(NewAccount.transport, NewCb.filter(F.act == "transport"))
async def got_transport(
    query: CallbackQuery,
    callback_data: NewCb,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    data: dict[str, Any] = await state.get_data()
    settings = AccountSettings(
        login=data["login"],
        password=_unseal(deps, data["password"]),
        domain=data["domain"],
        port=data.get("port"),
        outbound_proxy=data.get("outbound_proxy"),
        transport=callback_data.value,
    )
    await query.answer()
    if isinstance(query.message, Message):
        await _created(query.message, deps, actor, lang, settings, state)


@router.message(EditLine.line, F.text)
async def got_edit_line(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    text = message.text or ""
    await delete_quietly(message)  # it carries the password
    account_id = int((await state.get_data())["account_id"])
    try:
        saved = await accounts.update_settings(deps, actor, account_id, **parse_changes(text))
    except InvalidSettings as exc:
        await message.answer(
            t(lang, "new.bad", error=error_text(lang, exc))
            + "\n\n"
            + t(lang, "new.edit_line", id=account_id),
            reply_markup=views.cancel_kb(lang),
        )
        return
    await state.clear()
    text, kb = views.settings(lang, account_id, saved.public_dict())
    await message.answer(t(lang, "set.saved") + "\n\n" + text, reply_markup=kb)
