"""Transfer in inline mode (R3, R4, R6), Transfer back (R7) and Send back (R8).

- The card's Transfer button is a ``switch_inline_query_chosen_chat`` with ``#<ID>``: the owner
  picks a person's chat; the inline query is answered with one result per method the owner's
  plan allows. Choosing one sends the special message with Receive; its ``chosen_inline_result``
  creates the offer (R3: five minutes, replaces any older one) and attaches the inline message.
- Receive finds the offer by the pressed message's ``inline_message_id`` (the callback data holds
  nothing else), so a forged press has nothing to forge; the service checks who presses and when.
- Transfer back puts ``<ID> `` in the draft; the query ``<ID> <password>`` gets a result only for
  the right password (the service rate-limits wrong ones, typing-tolerant); choosing it takes
  the account back. The sent message never contains the password.
- Send back asks to confirm, then ends the assignment or turns the message into a Receive for
  the original sender.

Each button is one service call (``offers.receive_on_message``, ``offers.send_back_target``,
``offers.send_back_on_message``): the rules, lifetimes included, are the services' and the
domain's; a handler parses the press and renders the answer.
"""

from __future__ import annotations

import contextlib
import re

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    ChosenInlineResult,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultsButton,
)

from telesip.bot import drafts, views
from telesip.bot.callbacks import DraftCb, OfferCb
from telesip.bot.locales import error_text, t
from telesip.bot.notifier import Notice, Notifier
from telesip.bot.routers.start import HELP_PAYLOAD
from telesip.domain.errors import OfferNotFound, TelesipError
from telesip.domain.model import Method, OfferKind, Role, TelegramUser
from telesip.services import offers, people
from telesip.services.dependencies import Dependencies

router = Router(name=__name__)

TRANSFER_QUERY = re.compile(r"^#(\d{1,18})$")
BACK_QUERY = re.compile(r"^#?(\d{1,18})(?:\s+(.*))?$", re.S)


def _minutes(deps: Dependencies) -> int:
    return max(1, round(deps.rules.offer_ttl_seconds / 60))


async def _edit_inline(
    bot: Bot, inline_message_id: str, text: str, kb: InlineKeyboardMarkup | None = None
) -> None:
    with contextlib.suppress(TelegramBadRequest):  # "not modified" after a double press
        await bot.edit_message_text(text=text, inline_message_id=inline_message_id, reply_markup=kb)


# ------------------------------------------------------------------ inline queries


@router.inline_query(F.query.regexp(TRANSFER_QUERY))
async def transfer_query(
    query: InlineQuery, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    match = TRANSFER_QUERY.match(query.query.strip())
    assert match is not None
    try:
        choice = await people.transfer_choices(deps, actor, int(match[1]))
    except TelesipError as exc:
        await _explain(query, lang, exc)
        return
    now = deps.clock.now()
    signed = {
        m: drafts.make(deps, drafts.Draft(choice.account.id, actor.id, now, m))
        for m in choice.methods
    }
    results = views.offer_results(lang, choice.account, signed, actor.label, _minutes(deps))
    await query.answer(list(results), cache_time=0, is_personal=True)


@router.inline_query(F.query.regexp(BACK_QUERY))
async def transfer_back_query(
    query: InlineQuery, bot: Bot, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    match = BACK_QUERY.match(query.query.strip())
    assert match is not None
    account_id, password = int(match[1]), (match[2] or "").strip()
    if not password:
        button = InlineQueryResultsButton(
            text=t(lang, "tb.type_password", id=account_id), start_parameter=HELP_PAYLOAD
        )
        await query.answer([], cache_time=0, is_personal=True, button=button)
        return
    try:
        await offers.transfer_back(deps, actor, account_id, password, apply=False)
    except TelesipError as exc:
        await _explain(query, lang, exc)
        return
    me = await bot.me()
    result = views.take_back_result(lang, account_id, actor.label, f"https://t.me/{me.username}")
    await query.answer([result], cache_time=0, is_personal=True)


@router.inline_query()
async def other_query(query: InlineQuery) -> None:
    await query.answer([], cache_time=0, is_personal=True)


async def _explain(query: InlineQuery, lang: str, exc: TelesipError) -> None:
    """No result to send; the reason shows as the button above the (empty) results."""
    text = re.sub(r"<[^>]+>", "", error_text(lang, exc))[:64]
    button = InlineQueryResultsButton(text=text, start_parameter=HELP_PAYLOAD)
    await query.answer([], cache_time=0, is_personal=True, button=button)


# ------------------------------------------------------------------ chosen results


@router.chosen_inline_result(F.result_id.regexp(r"^(assign|unlink):\d+$"))
async def offer_sent(
    chosen: ChosenInlineResult, bot: Bot, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    """R3: the special message is in the chat; the offer lives from now on."""
    method, _, account = chosen.result_id.partition(":")
    message = chosen.inline_message_id
    try:
        if not message:
            await offers.create_offer(deps, actor, int(account), Method(method))
            return
        offer = await offers.offer_on_message(deps, actor, int(account), Method(method), message)
        if offer is None:
            return  # a Receive press was quicker and made the offer from the draft
        with contextlib.suppress(TelegramBadRequest):  # the button now shows the deadline
            await bot.edit_message_reply_markup(
                inline_message_id=message, reply_markup=views.receive_kb(lang, offer.expires_at)
            )
    except TelesipError as exc:
        if message:
            await _edit_inline(bot, message, t(lang, "offer.failed", error=error_text(lang, exc)))
        raise


@router.chosen_inline_result(F.result_id.regexp(r"^back:\d+$"))
async def transfer_back_chosen(
    chosen: ChosenInlineResult,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
    notifier: Notifier | None,
) -> None:
    """R7: the former owner chose "take back"; the password comes from the query only."""
    account_id = int(chosen.result_id.partition(":")[2])
    match = BACK_QUERY.match(chosen.query.strip())
    password = (match[2] or "").strip() if match else ""
    try:
        holder = await offers.transfer_back_from(deps, actor, account_id, password)
    except TelesipError as exc:
        if chosen.inline_message_id:
            await _edit_inline(
                bot, chosen.inline_message_id, t(lang, "offer.failed", error=error_text(lang, exc))
            )
        raise
    if chosen.inline_message_id:
        await _edit_inline(
            bot,
            chosen.inline_message_id,
            t(lang, "tb.done", id=account_id, sender=views.user_label(actor.label)),
        )
    if notifier is not None:
        notifier.tell(Notice(holder, "n.transferred_back", {"id": account_id}, actor.id))


# ------------------------------------------------------------------ buttons on the message


@router.callback_query(OfferCb.filter(F.act == "rcv"))
async def receive(
    query: CallbackQuery, bot: Bot, deps: Dependencies, actor: TelegramUser, lang: str
) -> None:
    if not query.inline_message_id:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    got = await offers.receive_on_message(deps, actor, query.inline_message_id)
    await _received(query, query.inline_message_id, got, bot, actor, lang)


@router.callback_query(DraftCb.filter())
async def receive_draft(
    query: CallbackQuery,
    callback_data: DraftCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """Receive before (or without) the chosen-result report: the draft makes the offer."""
    if not query.inline_message_id:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    try:
        draft: drafts.Draft | None = drafts.read(deps, callback_data.token)
    except OfferNotFound:  # not ours: only an offer the message already carries counts
        draft = None
    got = await offers.receive_on_message(deps, actor, query.inline_message_id, draft)
    await _received(query, query.inline_message_id, got, bot, actor, lang)


async def _received(
    query: CallbackQuery,
    inline_message_id: str,
    got: offers.Received,
    bot: Bot,
    actor: TelegramUser,
    lang: str,
) -> None:
    names = {
        "id": got.account_id,
        "sender": views.user_label(got.sender.label if got.sender else str(got.sender_id)),
        "recipient": views.user_label(actor.label),
    }
    await query.answer(t(lang, "offer.done"))
    if got.offer.kind is OfferKind.SEND_BACK:
        await _edit_inline(bot, inline_message_id, t(lang, "offer.received.back", **names))
        return
    await _edit_inline(
        bot,
        inline_message_id,
        t(lang, f"offer.received.{got.method.value}", **names),
        views.received_kb(lang, got.account_id, got.method),
    )


@router.callback_query(OfferCb.filter(F.act == "sb"))
async def ask_send_back(
    query: CallbackQuery,
    callback_data: OfferCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    """R8: only the person holding the account now may send it back; others get an alert."""
    target = await offers.send_back_target(deps, actor, callback_data.id, query.inline_message_id)
    if target is None or not query.inline_message_id:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    await query.answer()
    text = t(
        lang,
        "sb.confirm",
        user=views.user_label(actor.label),
        id=callback_data.id,
        to=views.user_label(target.to.label),
    )
    await _edit_inline(
        bot, query.inline_message_id, text, views.confirm_send_back_kb(lang, callback_data.id)
    )


@router.callback_query(OfferCb.filter(F.act == "sbno"))
async def cancel_send_back(
    query: CallbackQuery,
    callback_data: OfferCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    target = await offers.send_back_target(deps, actor, callback_data.id, query.inline_message_id)
    if target is None or not query.inline_message_id:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    await query.answer()
    method = Method.ASSIGN if target.role is Role.USER else Method.UNLINK
    key = f"offer.received.{method.value}"
    text = t(
        lang,
        key,
        id=callback_data.id,
        sender=views.user_label(target.to.label),
        recipient=views.user_label(actor.label),
    )
    await _edit_inline(
        bot, query.inline_message_id, text, views.received_kb(lang, callback_data.id, method)
    )


@router.callback_query(OfferCb.filter(F.act == "sbok"))
async def send_back(
    query: CallbackQuery,
    callback_data: OfferCb,
    bot: Bot,
    deps: Dependencies,
    actor: TelegramUser,
    lang: str,
) -> None:
    done = await offers.send_back_on_message(deps, actor, callback_data.id, query.inline_message_id)
    if done is None or query.inline_message_id is None:
        await query.answer(t(lang, "stale"), show_alert=True)
        return
    names = {
        "id": callback_data.id,
        "user": views.user_label(actor.label),
        "to": views.user_label(done.to.label if done.to else str(done.to_user_id)),
    }
    await query.answer()
    if done.offer is None:  # an assignment simply ends; the owner is notified
        await _edit_inline(bot, query.inline_message_id, t(lang, "sb.ended", **names))
        return
    await _edit_inline(
        bot,
        query.inline_message_id,
        t(lang, "sb.offer", minutes=_minutes(deps), **names),
        views.receive_kb(lang, done.offer.expires_at),
    )
