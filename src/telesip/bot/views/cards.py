"""/softphone and the account cards: the list, a card, its settings, rewrite rules, unused
accounts."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from html import escape, unescape

from aiogram.types import (
    InlineKeyboardButton,
    SwitchInlineQueryChosenChat,
    WebAppInfo,
)

from telesip.bot.callbacks import (
    AccountCb,
    CallCb,
    LinkCb,
    NewCb,
    RewriteCb,
)
from telesip.bot.locales import has, t
from telesip.bot.session import shared
from telesip.bot.setup import current_inline
from telesip.bot.views.common import Keyboard, badge, button, keyboard, user_label
from telesip.domain.firewall import describe
from telesip.domain.model import Role
from telesip.domain.readmodels import AccountSummary
from telesip.services.accounts import Card, Softphone

#: list entries per page (/softphone, /links): a page stays well under Telegram's 4096
#: characters and 100 buttons
PAGE_SIZE = 20


def pager(
    lang: str, total: int, page: int, to_page: Callable[[int], AccountCb | LinkCb | CallCb]
) -> tuple[slice, list[str], list[list[InlineKeyboardButton]]]:
    """Which entries a page shows, the "Page 2 of 13: 21-40 of 250." line and the
    Previous/Next row (none for a list that fits one page)."""
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    shown = slice(page * PAGE_SIZE, min(total, (page + 1) * PAGE_SIZE))
    if pages == 1:
        return shown, [], []
    footer = t(
        lang,
        "list.page",
        page=page + 1,
        pages=pages,
        first=shown.start + 1,
        last=shown.stop,
        total=total,
    )
    nav = []
    if page > 0:
        nav.append(button(t(lang, "btn.prev"), to_page(page - 1)))
    if page < pages - 1:
        nav.append(button(t(lang, "btn.next"), to_page(page + 1)))
    return shown, ["", footer], [nav]


def softphone(
    lang: str, sp: Softphone, page: int = 0, table_url: str | None = None
) -> tuple[str, Keyboard]:
    """R1: owned accounts (with their user), then the ones assigned to the caller; long lists
    page (``PAGE_SIZE`` a page) with Previous/Next and the counts. With ``table_url`` (the
    Mini App's address) an owner also gets "Open the table"."""
    entries: list[tuple[str, str, int, bool]] = []  # (line, button, id, assigned to me)
    for a in sp.owned:
        line = t(
            lang, "sp.line", badge=badge(a), id=a.id, login=escape(a.login), domain=escape(a.domain)
        )
        if a.assigned:
            line += t(lang, "sp.line_user", user=user_label(a.user_label))
        label = unescape(line)  # buttons are plain text
        entries.append((line, label if len(label) < 60 else f"#{a.id}", a.id, False))
    for a in sp.assigned_to_me:
        line = t(lang, "sp.line_assigned", badge=badge(a), id=a.id, owner=user_label(a.owner_label))
        entries.append((line, unescape(line)[:60], a.id, True))
    window, footer, nav = pager(lang, len(entries), page, lambda p: AccountCb(act="list", id=p))
    lines = [t(lang, "sp.title")]
    if not entries:
        lines.append(t(lang, "sp.empty"))
    rows: list[list[InlineKeyboardButton]] = []
    in_assigned = False
    for line, label, account_id, mine in entries[window]:
        if mine and not in_assigned:
            lines += ["", t(lang, "sp.assigned_title")]
            in_assigned = True
        lines.append(line)
        rows.append([button(label, AccountCb(act="open", id=account_id))])
    lines += footer
    rows += nav
    if table_url and sp.owned:
        table = WebAppInfo(url=table_url)
        rows.append([InlineKeyboardButton(text=t(lang, "miniapp.open"), web_app=table)])
    rows.append([button(t(lang, "btn.new"), NewCb(act="start"))])
    return "\n".join(lines), keyboard(*rows)


_FAILING = frozenset({"auth_failed", "unreachable", "failed"})


def _cause(code: int | None, phrase: str | None) -> str | None:
    """The catalog key of why registration fails, from the SIP answer (None: no known cause)."""
    if code in (401, 403, 407):
        return "auth"
    if code == 404:
        return "not_found"
    if code in (408, 480, 503, 504) or (code is None and phrase and "timeout" in phrase.lower()):
        return "no_answer"
    if code is not None and code >= 500:
        return "server"
    return None


def reg_why(lang: str, code: int | None, phrase: str | None) -> str:
    """Why a SIP account is not registered, in words (the SIP status only as a last resort)."""
    cause = _cause(code, phrase)
    if cause is not None:
        return t(lang, f"regwhy.{cause}")
    if code is not None:
        return t(lang, "regwhy.other", code=code, phrase=escape(phrase or ""))
    return escape(phrase or "")


def state_line(lang: str, a: AccountSummary, role: Role) -> str:
    """The card's one line on whether the account works: registered or not, and why in words,
    with what would fix it (the owner is told where; an employee whom to tell)."""
    mark = badge(a)
    if a.duplicate and not a.enabled and a.reg_error:  # a copy of a connected line (R11)
        sip = escape(f"{a.login}@{a.domain}")
        why = t(lang, "error.line_connected", sip=sip)
        return f"{mark} " + t(lang, "cstate.off_why", why=why)
    if not a.enabled:
        return f"{mark} " + t(lang, "cstate.off")
    if a.reg_state == "registered":
        return f"{mark} " + t(lang, "cstate.works")
    failing = a.reg_state in _FAILING or a.reg_error or (a.reg_code and a.reg_code >= 300)
    if not failing:  # not registered yet, registering
        word = t(lang, f"reg.{a.reg_state}") if has(f"reg.{a.reg_state}") else escape(a.reg_state)
        return f"{mark} {word}"
    why = reg_why(lang, a.reg_code, a.reg_error) or t(lang, f"reg.{a.reg_state}")
    cause = _cause(a.reg_code, a.reg_error)
    if role is not Role.OWNER:
        fix = t(lang, "regfix.ask_owner", owner=user_label(a.owner_label))
    elif cause is not None:
        fix = t(lang, f"regfix.{cause}")
    else:
        return f"{mark} " + t(lang, "cstate.broken", why=why)
    return f"{mark} " + t(lang, "cstate.broken_fix", why=why, fix=fix)


def card(lang: str, c: Card) -> tuple[str, Keyboard]:
    """The account card: everything for the owner, calls-only for an assigned user (R5).

    First the one line on whether it works (``state_line``); the owner's card then groups
    the settings, who uses the account and who pays for it under their headings. Made once
    for the same card (``_card``, by everything it shows: the bot shows it on every press)."""
    pending = c.pending_offer is not None
    return _card(lang, c.summary, c.role, c.recording, tuple(c.firewall), pending, current_inline())


@functools.lru_cache(maxsize=4096)
def _card(
    lang: str,
    a: AccountSummary,
    role: Role,
    recording: bool,
    firewall_entries: tuple[str, ...],
    pending: bool,
    inline: bool,
) -> tuple[str, Keyboard]:
    i = a.id
    lines = [t(lang, "card.title", id=i), t(lang, "card.state", state=state_line(lang, a, role))]
    record = t(lang, "card.record_on" if recording else "card.record_off")
    if role is Role.OWNER:
        port = f":{a.port}" if a.port else ""
        server = t(
            lang, "card.server", domain=escape(a.domain), port=port, transport=a.transport.upper()
        )
        lines += ["", t(lang, "card.h_settings"), server]
        lines += [t(lang, "card.login", login=escape(a.login)), record]
        if a.duplicate:
            lines.append(t(lang, "card.duplicate"))
        if firewall := describe(firewall_entries):  # IP addresses only, never a host name
            addresses = ", ".join(f"<code>{escape(x)}</code>" for x in firewall)
            lines.append(t(lang, "card.firewall", addresses=addresses))
        lines += ["", t(lang, "card.h_user")]
        lines.append(
            t(lang, "card.user", user=user_label(a.user_label))
            if a.assigned
            else t(lang, "card.user_self")
        )
        if pending:
            lines.append(t(lang, "card.pending"))
        lines += ["", t(lang, "card.h_payer")]
        lines.append(t(lang, "card.payer", payer=t(lang, f"payer.{a.payer.value}")))
        return "\n".join(lines), _owner_keyboard(lang, i, a.enabled, a.assigned, inline)
    lines += [t(lang, "card.owner", owner=user_label(a.owner_label)), record]
    lines.append(t(lang, "card.payer", payer=t(lang, "payer.owner_plan_user")))
    lines.append(t(lang, "card.assigned_note"))
    buttons = keyboard(
        [
            button(t(lang, "btn.send_back"), AccountCb(act="sendback", id=i)),
            button(t(lang, "btn.delete"), AccountCb(act="delete", id=i)),
        ],
        [button(t(lang, "btn.back"), AccountCb(act="list", id=0))],
    )
    return "\n".join(lines), shared(buttons)  # cached with the card: shown again and again


def owner_keyboard(lang: str, a: AccountSummary) -> Keyboard:
    """The owner's buttons under a card."""
    return _owner_keyboard(lang, a.id, a.enabled, a.assigned, current_inline())


# Built again on every press this cost as much as reading the card (seven pydantic buttons,
# their callback data validated and packed); nothing changes a keyboard once built, so one is
# shared.
@functools.lru_cache(maxsize=4096)
def _owner_keyboard(lang: str, i: int, enabled: bool, assigned: bool, inline: bool) -> Keyboard:
    toggle = (
        button(t(lang, "btn.disable"), AccountCb(act="disable", id=i))
        if enabled
        else button(t(lang, "btn.enable"), AccountCb(act="enable", id=i))
    )
    transfer = InlineKeyboardButton(
        text=t(lang, "btn.transfer"),
        switch_inline_query_chosen_chat=SwitchInlineQueryChosenChat(
            query=f"#{i}",
            allow_user_chats=True,
            allow_bot_chats=False,
            allow_group_chats=False,
            allow_channel_chats=False,
        ),
    )
    if not inline:  # inline mode is off in BotFather: say so instead of a dead query
        transfer = button(t(lang, "btn.transfer"), AccountCb(act="noinline", id=i))
    second = [transfer]
    if assigned:
        second.append(button(t(lang, "btn.take_back"), AccountCb(act="takeback", id=i)))
    rows = keyboard(
        [button(t(lang, "btn.settings"), AccountCb(act="settings", id=i)), toggle],
        second,
        [button(t(lang, "btn.delete"), AccountCb(act="delete", id=i))],
        [button(t(lang, "btn.back"), AccountCb(act="list", id=0))],
    )
    return shared(rows)  # the same for every press: its JSON is made once (bot/session.py)


def confirm_delete(lang: str, account_id: int, role: Role) -> tuple[str, Keyboard]:
    owner = role is Role.OWNER
    text = t(lang, "card.confirm_delete" if owner else "card.confirm_return", id=account_id)
    yes = t(lang, "btn.yes_delete" if owner else "btn.yes_return")
    return text, keyboard(
        [
            button(yes, AccountCb(act="delete_ok", id=account_id)),
            button(t(lang, "btn.cancel"), AccountCb(act="open", id=account_id)),
        ]
    )


def unused(lang: str, rows: Sequence[AccountSummary], days: int) -> tuple[str, Keyboard]:
    """/unused (R11): the owner's unused accounts, a Disable button each (at most 50)."""
    if not rows:
        return t(lang, "unused.none", days=days), keyboard()
    lines = [t(lang, "unused.title", days=days)]
    lines += [f"#{a.id} {escape(a.login)}@{escape(a.domain)}" for a in rows[:50]]
    buttons = [
        [button(t(lang, "unused.disable", id=a.id), AccountCb(act="udisable", id=a.id))]
        for a in rows[:50]
    ]
    return "\n".join(lines), keyboard(*buttons)


def confirm_card_send_back(lang: str, account_id: int) -> tuple[str, Keyboard]:
    return t(lang, "card.confirm_return", id=account_id), keyboard(
        [
            button(t(lang, "btn.yes_return"), AccountCb(act="sendback_ok", id=account_id)),
            button(t(lang, "btn.cancel"), AccountCb(act="open", id=account_id)),
        ]
    )


#: each shown setting and the name a person types to change it (``name = value``, Settings)
SETTING_NAMES = {
    "login": "login",
    "domain": "server",
    "auth_username": "auth",
    "registrar": "registrar",
    "outbound_proxy": "proxy",
    "transport": "transport",
    "port": "port",
    "expires": "expires",
    "display_name": "name",
    "codecs": "codecs",
    "dtmf_mode": "dtmf",
    "media_encryption": "srtp",
}


def settings(lang: str, account_id: int, values: dict[str, object]) -> tuple[str, Keyboard]:
    """The owner's settings view; never the password (it is not in ``public_dict``)."""
    lines = [t(lang, "set.title", id=account_id)]
    for field, name in SETTING_NAMES.items():
        value = values.get(field)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        shown = escape(str(value)) if value not in (None, "") else "—"
        label = t(lang, f"setting.{field}")
        lines.append(t(lang, "setting.line", label=label, name=name, value=shown))
    record = bool(values.get("record"))
    lines += [t(lang, "card.record_on" if record else "card.record_off"), "", t(lang, "set.hint")]
    transports = [
        button(
            ("• " if values.get("transport") == tr else "") + tr.upper(),
            AccountCb(act=f"tr_{tr}", id=account_id),
        )
        for tr in ("udp", "tcp", "tls")
    ]
    return "\n".join(lines), keyboard(
        transports,
        [
            button(
                t(lang, "btn.record_off" if record else "btn.record_on"),
                AccountCb(act="rec_off" if record else "rec_on", id=account_id),
            )
        ],
        [button(t(lang, "btn.edit_line"), AccountCb(act="edit", id=account_id))],
        [button(t(lang, "btn.rewrite"), RewriteCb(act="list", id=account_id))],
        [button(t(lang, "btn.back"), AccountCb(act="open", id=account_id))],
    )


def rule_digest(pattern: str, replacement: str) -> str:
    """A short digest naming one rewrite rule in a button (callback data is 64 bytes)."""
    return hashlib.sha256(f"{pattern}\x00{replacement}".encode()).hexdigest()[:8]


def rewrite_rules(
    lang: str, account_id: int, rules: Sequence[Sequence[str]]
) -> tuple[str, Keyboard]:
    """An account's number-rewrite rules in order, a ✖ per rule, Add and Back."""
    lines = [t(lang, "rw.title", id=account_id)]
    if not rules:
        lines.append(t(lang, "rw.empty"))
    for n, (pattern, replacement) in enumerate(rules, 1):
        lines.append(
            t(lang, "rw.line", n=n, pattern=escape(pattern), replacement=escape(replacement))
        )
    lines += ["", t(lang, "rw.explain")]
    remove = [
        button(f"✖ {n}", RewriteCb(act="del", id=account_id, i=n - 1, h=rule_digest(p, r)))
        for n, (p, r) in enumerate(rules, 1)
    ]
    return "\n".join(lines), keyboard(
        *(remove[i : i + 5] for i in range(0, len(remove), 5)),
        [button(t(lang, "btn.rw_add"), RewriteCb(act="add", id=account_id))],
        [button(t(lang, "btn.back"), AccountCb(act="settings", id=account_id))],
    )
