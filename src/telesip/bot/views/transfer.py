"""Transfers in inline mode: the offer results, Receive, Send back, transfer back."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram.types import (
    InlineKeyboardButton,
    InlineQueryResultArticle,
    InputTextMessageContent,
)

from telesip.bot.callbacks import (
    DraftCb,
    OfferCb,
)
from telesip.bot.locales import t
from telesip.bot.views.common import Keyboard, button, keyboard, user_label
from telesip.domain.model import Method
from telesip.domain.readmodels import AccountSummary


def offer_results(
    lang: str, a: AccountSummary, drafts: dict[Method, str], sender: str, minutes: int
) -> list[InlineQueryResultArticle]:
    """One inline result per method the owner's plan allows (R3/R4/R6), each with its draft."""
    results = []
    for method, draft in drafts.items():
        title = t(lang, f"method.{method.value}")
        text = t(
            lang,
            "offer.text",
            sender=user_label(sender),
            id=a.id,
            login=escape(a.login),
            domain=escape(a.domain),
            method=title,
            minutes=minutes,
        )
        results.append(
            InlineQueryResultArticle(
                id=f"{method.value}:{a.id}",
                title=title,
                description=t(lang, f"method.{method.value}.desc", id=a.id),
                input_message_content=InputTextMessageContent(message_text=text, parse_mode="HTML"),
                reply_markup=keyboard([button(t(lang, "btn.receive"), DraftCb(token=draft))]),
            )
        )
    return results


def receive_kb(lang: str, until: datetime | None = None) -> Keyboard:
    """Receive; the data names nothing: the offer is the one the pressed message carries."""
    text = t(lang, "btn.receive")
    if until is not None:
        text += t(lang, "offer.until", until=until.strftime("%H:%M UTC"))
    return keyboard([button(text, OfferCb(act="rcv"))])


def received_kb(lang: str, account_id: int, method: Method) -> Keyboard:
    """After a Receive: Send back (R8) always, Transfer back (R7) after an unlink."""
    send_back = button(t(lang, "btn.send_back"), OfferCb(act="sb", id=account_id))
    if method is Method.ASSIGN:
        return keyboard([send_back])
    return keyboard(
        [
            InlineKeyboardButton(
                text=t(lang, "btn.transfer_back"),
                switch_inline_query_current_chat=f"{account_id} ",
            ),
            send_back,
        ]
    )


def confirm_send_back_kb(lang: str, account_id: int) -> Keyboard:
    return keyboard(
        [
            button(t(lang, "btn.yes_send_back"), OfferCb(act="sbok", id=account_id)),
            button(t(lang, "btn.cancel"), OfferCb(act="sbno", id=account_id)),
        ]
    )


def take_back_result(
    lang: str, account_id: int, sender: str, bot_url: str
) -> InlineQueryResultArticle:
    """R7: shown only for the right password; its message never contains the password."""
    return InlineQueryResultArticle(
        id=f"back:{account_id}",
        title=t(lang, "tb.title", id=account_id),
        description=t(lang, "tb.desc"),
        input_message_content=InputTextMessageContent(
            message_text=t(lang, "tb.text", sender=user_label(sender), id=account_id),
            parse_mode="HTML",
        ),
        # a keyboard makes Telegram report the inline_message_id, so the outcome can be shown
        reply_markup=keyboard([InlineKeyboardButton(text=t(lang, "btn.open_bot"), url=bot_url)]),
    )
