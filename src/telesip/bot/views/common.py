"""Pieces every view uses: keyboards, callback buttons, account badges, labels."""

from __future__ import annotations

from html import escape

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)

from telesip.bot.callbacks import (
    AccountCb,
    BulkCb,
    CallCb,
    DraftCb,
    ImportCb,
    LinkCb,
    NewCb,
    OfferCb,
    RewriteCb,
    WorkerCb,
)
from telesip.domain.readmodels import AccountSummary

Keyboard = InlineKeyboardMarkup


BADGES = {
    "registered": "🟢",
    "auth_failed": "🔴",
    "unreachable": "🟠",
    "failed": "🔴",
    "disabled": "⏸",
}


def keyboard(*rows: list[InlineKeyboardButton]) -> Keyboard:
    """An inline keyboard of these rows (empty rows left out)."""
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def button(
    text: str,
    data: AccountCb
    | NewCb
    | OfferCb
    | LinkCb
    | DraftCb
    | WorkerCb
    | RewriteCb
    | ImportCb
    | CallCb
    | BulkCb,
) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def badge(a: AccountSummary) -> str:
    if not a.enabled:
        return BADGES["disabled"]
    return BADGES.get(a.reg_state, "⚪")


def user_label(name: str) -> str:
    return escape(name)
