"""Settings links, the account picker, subscriptions, workers."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram.types import (
    InlineKeyboardButton,
)

from telesip.bot.callbacks import (
    LinkCb,
    NewCb,
    WorkerCb,
)
from telesip.bot.locales import t
from telesip.bot.views.cards import pager
from telesip.bot.views.common import Keyboard, button, keyboard, user_label
from telesip.domain.firewall import describe
from telesip.domain.readmodels import AccountSummary
from telesip.services.billing import SubscriptionView
from telesip.services.fleet import WorkerView
from telesip.services.links import LinkLine


def links(lang: str, lines_: list[LinkLine], now: datetime, page: int = 0) -> tuple[str, Keyboard]:
    """/links: every link with its state (paged), Revoke for the live ones."""
    window, footer, nav = pager(lang, len(lines_), page, lambda p: LinkCb(act="page", id=p))
    lines = [t(lang, "links.title")]
    rows: list[list[InlineKeyboardButton]] = []
    if not lines_:
        lines.append(t(lang, "links.empty"))
    for line in lines_[window]:
        link, a = line.link, line.account
        state = link.state
        if state == "active" and now >= link.expires_at:
            state = "expired"
        used = f" → {user_label(a.user_label)}" if a is not None and a.assigned else ""
        lines.append(
            t(
                lang,
                "links.line",
                account_id=link.account_id,
                login=escape(a.login) if a else "?",
                domain=escape(a.domain) if a else "?",
                state=t(lang, f"links.state.{state}"),
                user=used,
            )
        )
        if state == "active":
            rows.append(
                [
                    button(
                        t(lang, "btn.revoke", id=link.account_id), LinkCb(act="revoke", id=link.id)
                    )
                ]
            )
    lines += footer
    rows += nav
    rows.append([button(t(lang, "btn.new_link"), LinkCb(act="new"))])
    rows.append([button(t(lang, "btn.new_link_account"), NewCb(act="start", value="link"))])
    return "\n".join(lines), keyboard(*rows)


def pick_account(lang: str, accounts: list[AccountSummary], page: int = 0) -> tuple[str, Keyboard]:
    """New link: which SIP account (paged: Telegram allows 100 buttons a message)."""
    if not accounts:
        return t(lang, "links.none_to_pick"), keyboard()
    window, footer, nav = pager(lang, len(accounts), page, lambda p: LinkCb(act="new", id=p))
    rows = [
        [button(f"#{a.id} {a.login}@{a.domain}", LinkCb(act="make", id=a.id))]
        for a in accounts[window]
    ]
    return "\n".join([t(lang, "links.pick"), *footer]), keyboard(*rows, *nav)


def subscriptions(lang: str, view: SubscriptionView) -> str:
    def lim(value: int | None) -> str:
        return t(lang, "subs.unlimited") if value is None else str(value)

    lines = [t(lang, "subs.title")]
    for sub in view.subscriptions:
        if sub.seats is None:
            lines.append(t(lang, "subs.line_unlimited", plan=escape(sub.plan)))
        else:
            lines.append(t(lang, "subs.line", plan=escape(sub.plan), seats=sub.seats))
    e = view.entitlements
    lines.append(
        t(
            lang,
            "subs.usage",
            used=e.seats_used,
            limit=lim(e.seat_limit),
            start=e.start_used,
            start_limit=lim(e.start_limit),
        )
    )
    lines.append(t(lang, "subs.assign_yes" if e.can_assign else "subs.assign_no"))
    return "\n".join(lines)


def workers(lang: str, found: list[WorkerView], me: int) -> tuple[str, Keyboard]:
    """/workers: the caller's workers and the shared ones, with the addresses to allow."""
    lines = [t(lang, "workers.title")]
    for w in found:
        state = "revoked" if w.revoked else ("alive" if w.alive else "down")
        addresses = ", ".join(f"<code>{escape(x)}</code>" for x in describe(w.addresses))
        lines.append(
            t(
                lang,
                "workers.line",
                badge="🟢" if w.alive else "⚪",
                name=escape(w.name),
                mine=t(lang, "workers.yours") if w.owner_id == me else "",
                state=t(lang, f"workers.{state}"),
                accounts=w.accounts,
                addresses=addresses or t(lang, "workers.no_addresses"),
            )
        )
    if not found:
        lines.append(t(lang, "workers.none"))
    lines.append("")
    lines.append(t(lang, "workers.hint"))
    rows = [[button(t(lang, "btn.new_worker"), WorkerCb(act="new"))]]
    rows += [
        [button(t(lang, "btn.revoke_worker", name=w.name), WorkerCb(act="revoke", id=w.id))]
        for w in found
        if w.owner_id == me and not w.revoked
    ]
    return "\n".join(lines), keyboard(*rows)
