"""/calls: a person's calls, newest first, a page at a time."""

from __future__ import annotations

import html
from datetime import datetime

from telesip.bot.callbacks import CallCb
from telesip.bot.locales import t
from telesip.bot.views.cards import PAGE_SIZE, pager
from telesip.bot.views.common import Keyboard, keyboard
from telesip.domain.calls import CallRecord, Direction


def _when(at: datetime) -> str:
    return at.strftime("%d.%m %H:%M")


def history_row(lang: str, call: CallRecord) -> str:
    """One call: direction, when, the number, the line and how it went."""
    icon = "↙️" if call.direction is Direction.IN else "↗️"
    if call.active:
        outcome = t(lang, "reason.active")
    elif call.duration is not None:
        minutes, seconds = divmod(round(call.duration), 60)
        outcome = t(lang, "calls.talk", duration=f"{minutes}:{seconds:02d}")
    else:
        outcome = t(lang, f"reason.{call.end_reason.value if call.end_reason else 'failed'}")
    return t(
        lang,
        "calls.row",
        icon=icon,
        when=_when(call.created_at),
        number=html.escape(call.number),
        line_id=call.account_id,
        outcome=outcome,
    )


def history(
    lang: str, calls: list[CallRecord], total: int, page: int, hint: str = ""
) -> tuple[str, Keyboard]:
    """Page ``page`` (from 0, ``PAGE_SIZE`` calls) of ``total``: the rows, the "Page 2 of 3:
    21-40 of 45." line and Previous/Next when there is more than one page; then ``hint``
    (who rings people). No calls at all: how to make one."""
    if total == 0:
        return t(lang, "calls.empty") + hint, keyboard()
    _, footer, nav = pager(lang, total, page, lambda p: CallCb(act="page", id=p))
    rows = [history_row(lang, c) for c in calls[:PAGE_SIZE]]
    text = "\n".join([t(lang, "calls.title"), "", *rows, *footer]) + hint
    return text, keyboard(*nav)
