"""Number-rewrite rules of an account, a Settings sub-screen for its owner: the rules in order,
Add (one message ``PATTERN REPLACEMENT``) and ✖ per rule.

The rules are account settings (``rewrite_rules``); the domain validates them, and a rule it
refuses gets the reason in the person's language with the prompt again. A ✖ names its rule
by a digest, so a press on a list that changed meanwhile removes nothing.
"""

from __future__ import annotations

from html import escape

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message

from telesip.bot import views
from telesip.bot.callbacks import RewriteCb
from telesip.bot.locales import error_text, t
from telesip.bot.replies import show
from telesip.domain.errors import AssignedUserLimit, InvalidSettings
from telesip.domain.model import TelegramUser
from telesip.domain.settings import MAX_REWRITE_LENGTH, MAX_REWRITE_RULES
from telesip.services import accounts
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)


class RewriteRule(StatesGroup):
    line = State()


async def _rules(deps: Dependencies, actor: TelegramUser, account_id: int) -> list[tuple[str, str]]:
    """The rules as the owner sees them; the assigned user is refused (R5)."""
    card = await accounts.get_card(deps, actor, account_id)
    if card.settings is None:
        raise AssignedUserLimit(account_id=account_id)
    return [(str(p), str(r)) for p, r in card.settings["rewrite_rules"]]


def _why(lang: str, exc: InvalidSettings) -> str:
    kind = exc.params.get("rewrite")
    if kind == "regex":
        pattern, detail = exc.params["pattern"], exc.params["detail"]
        return t(lang, "rw.bad_regex", pattern=escape(pattern), detail=escape(detail))
    if kind == "count":
        return t(lang, "rw.too_many", max=MAX_REWRITE_RULES)
    if kind == "length":
        return t(lang, "rw.too_long", max=MAX_REWRITE_LENGTH)
    return error_text(lang, exc)


@router.callback_query(RewriteCb.filter(F.act == "list"))
async def list_rules(
    query: CallbackQuery,
    callback_data: RewriteCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    rules = await _rules(deps, actor, callback_data.id)
    await query.answer()
    await show(query, *views.rewrite_rules(lang, callback_data.id, rules))


@router.callback_query(RewriteCb.filter(F.act == "add"))
async def ask_rule(
    query: CallbackQuery,
    callback_data: RewriteCb,
    state: FSMContext,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    await _rules(deps, actor, callback_data.id)  # the owner only
    await state.set_state(RewriteRule.line)
    await state.set_data({"account_id": callback_data.id})
    await query.answer()
    if query.message is not None and query.bot is not None:
        await query.bot.send_message(
            query.message.chat.id, t(lang, "rw.prompt"), reply_markup=views.cancel_kb(lang)
        )


@router.message(RewriteRule.line, F.text)
async def got_rule(
    message: Message, state: FSMContext, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    account_id = int((await state.get_data())["account_id"])
    parts = (message.text or "").strip().split(maxsplit=1)
    if len(parts) != 2:
        await _again(message, lang, t(lang, "rw.need_two"))
        return
    try:
        saved = await accounts.edit_rewrite_rules(deps, actor, account_id, add=(parts[0], parts[1]))
    except InvalidSettings as exc:
        await _again(message, lang, _why(lang, exc))
        return
    await state.clear()
    text, kb = views.rewrite_rules(lang, account_id, saved.rewrite_rules)
    await message.answer(t(lang, "rw.added") + "\n\n" + text, reply_markup=kb)


async def _again(message: Message, lang: str, why: str) -> None:
    await message.answer(
        t(lang, "new.bad", error=why) + "\n\n" + t(lang, "rw.prompt"),
        reply_markup=views.cancel_kb(lang),
    )


@router.callback_query(RewriteCb.filter(F.act == "del"))
async def remove_rule(
    query: CallbackQuery,
    callback_data: RewriteCb,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    rules = await _rules(deps, actor, callback_data.id)
    i = callback_data.i
    if not 0 <= i < len(rules) or views.rule_digest(*rules[i]) != callback_data.h:
        await query.answer(t(lang, "stale"), show_alert=True)
        await show(query, *views.rewrite_rules(lang, callback_data.id, rules))
        return
    saved = await accounts.edit_rewrite_rules(deps, actor, callback_data.id, remove=rules[i])
    await query.answer(t(lang, "rw.removed"))
    await show(query, *views.rewrite_rules(lang, callback_data.id, saved.rewrite_rules))
