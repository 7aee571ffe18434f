"""Calls in the bot: /calls (the history), dialling (a phone number sent to the bot, or
/call NUMBER; buttons pick the line when there are several), and the in-call keypad (keys, Hold /
Resume, Hang up). /calls
and a dialled call name the caller accounts the call rings from, so people can allow them.

The number waits in the conversation's storage (database or Redis) while the person picks the
line, so any bot process can take the press; the buttons carry only the line's id, and the
service checks on every press that the line is the presser's.
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from telesip import extras
from telesip.bot import views
from telesip.bot.callbacks import CallCb
from telesip.bot.locales import t
from telesip.bot.replies import show
from telesip.domain.calls import looks_like_number, parse_number
from telesip.domain.model import TelegramUser
from telesip.services import calls, people
from telesip.services.callers import caller_accounts
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")

KEYPAD = ("123", "456", "789", "*0#")


def keypad(lang: str, call_id: int, *, held: bool = False) -> InlineKeyboardMarkup:
    """The in-call keypad; its Hold button reads Resume while the call is held."""
    rows = [
        [
            InlineKeyboardButton(text=k, callback_data=CallCb(act="key", id=call_id, key=k).pack())
            for k in row
        ]
        for row in KEYPAD
    ]
    hold = "resume" if held else "hold"
    rows.append(
        [
            InlineKeyboardButton(
                text=t(lang, f"btn.{hold}"), callback_data=CallCb(act=hold, id=call_id).pack()
            ),
            InlineKeyboardButton(
                text=t(lang, "btn.hangup"), callback_data=CallCb(act="hang", id=call_id).pack()
            ),
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def who_calls(deps: Dependencies, lang: str) -> str:
    """Which Telegram accounts ring people, and how to allow them (or: none exists yet, or
    this install has no calls)."""
    if not extras.calls_enabled():
        return "\n\n" + t(lang, "calls.disabled")
    callers = await caller_accounts(deps)
    if not callers:
        return t(lang, "calls.not_set_up")
    names = ", ".join(html.escape(c.label) for c in callers)
    return t(lang, "calls.from" if len(callers) == 1 else "calls.from_many", callers=names)


@router.message(Command("calls"))
async def history(message: Message, deps: Dependencies, actor: TelegramUser, lang: str) -> None:
    """The newest page of the person's calls (Previous/Next and the counts when there are
    more)."""
    found = await calls.history_page(deps, actor, page=0, size=views.PAGE_SIZE)
    hint = await who_calls(deps, lang)
    text, kb = views.history(lang, found.calls, found.total, found.page, hint)
    await message.answer(text, reply_markup=kb if kb.inline_keyboard else None)


@router.callback_query(CallCb.filter(F.act == "page"))
async def history_page(
    query: CallbackQuery, callback_data: CallCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    found = await calls.history_page(deps, actor, page=callback_data.id, size=views.PAGE_SIZE)
    hint = await who_calls(deps, lang)
    await query.answer()
    await show(query, *views.history(lang, found.calls, found.total, found.page, hint))


async def _calls_ready(
    message: Message, deps: Dependencies, actor: TelegramUser, lang: str
) -> bool:
    """Whether a call can be placed at all; if not, the one answer that says why and what
    would make it work (the administrator is told the command)."""
    if not extras.calls_enabled():  # an install without telesip[calls]
        await message.answer(t(lang, "calls.disabled"))
        return False
    if not await caller_accounts(deps):  # no Telegram account to ring people from
        admin = (await people.subscriptions_of(deps, actor)).entitlements.can_assign
        await message.answer(t(lang, "call.no_caller_admin" if admin else "call.no_caller"))
        return False
    return True


async def _dial(
    message: Message,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    text: str,
    state: FSMContext,
) -> None:
    number = parse_number(text)  # a wrong number is said first: it is the person's to fix
    if not await _calls_ready(message, deps, actor, lang):
        return
    line = await calls.only_line(deps, actor)
    if line is not None:
        call = await calls.request_call(deps, actor, number, line.account_id)
        await message.answer(
            t(lang, "call.requested", number=html.escape(call.number), line_id=line.account_id)
            + await who_calls(deps, lang)
        )
        return
    await state.update_data(dial=number)
    buttons = [
        [
            InlineKeyboardButton(
                text=t(lang, "btn.line", line_id=x.account_id, login=x.login, domain=x.domain),
                callback_data=CallCb(act="line", id=x.account_id).pack(),
            )
        ]
        for x in await calls.lines(deps, actor)
        if x.enabled
    ]
    await message.answer(
        t(lang, "call.pick_line", number=html.escape(number)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons),
    )


@router.message(Command("call"))
async def call_command(
    message: Message,
    command: CommandObject,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    state: FSMContext,
) -> None:
    await _dial(message, deps, actor, lang, command.args or "", state)


@router.message(StateFilter(None), F.text.func(looks_like_number))
async def number_sent(
    message: Message, deps: Dependencies, actor: TelegramUser, lang: str, state: FSMContext
) -> None:
    await _dial(message, deps, actor, lang, message.text or "", state)


@router.callback_query(CallCb.filter(F.act == "line"))
async def line_chosen(
    query: CallbackQuery,
    callback_data: CallCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    state: FSMContext,
) -> None:
    number = (await state.get_data()).get("dial")
    if not extras.calls_enabled():
        await query.answer(t(lang, "calls.disabled"), show_alert=True)
        return
    if not isinstance(number, str):
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    call = await calls.request_call(deps, actor, number, callback_data.id)
    await state.update_data(dial=None)
    await query.answer()
    await show(
        query,
        t(lang, "call.requested", number=html.escape(call.number), line_id=call.account_id)
        + await who_calls(deps, lang),
    )


@router.callback_query(CallCb.filter(F.act == "key"))
async def key_pressed(
    query: CallbackQuery, callback_data: CallCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    await calls.press_key(deps, actor, callback_data.id, callback_data.key)
    await query.answer(t(lang, "call.key_sent", digit=callback_data.key))


@router.callback_query(CallCb.filter(F.act.in_({"hold", "resume"})))
async def hold_pressed(
    query: CallbackQuery, callback_data: CallCb, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    on = callback_data.act == "hold"
    await calls.hold(deps, actor, callback_data.id, on=on)
    await query.answer(t(lang, "call.held" if on else "call.resumed"))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=keypad(lang, callback_data.id, held=on))


@router.callback_query(CallCb.filter(F.act == "hang"))
async def hang_up(
    query: CallbackQuery, callback_data: CallCb, deps: Dependencies, actor: TelegramUser
) -> None:
    await calls.hang_up(deps, actor, callback_data.id)
    await query.answer()
