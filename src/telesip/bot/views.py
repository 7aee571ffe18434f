"""What the bot shows: texts (from the catalog) and inline keyboards, built from service results.

Pure functions of their arguments: no I/O, no services. Everything a person typed (names,
logins, server names) is HTML-escaped here, because messages are sent with parse_mode HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from html import escape, unescape

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    SwitchInlineQueryChosenChat,
    WebAppInfo,
)

from telesip.bot.callbacks import (
    AccountCb,
    DraftCb,
    ImportCb,
    LinkCb,
    NewCb,
    OfferCb,
    RewriteCb,
    WorkerCb,
)
from telesip.bot.locales import has, t
from telesip.bot.setup import current_inline
from telesip.domain.firewall import describe
from telesip.domain.model import Method, Role
from telesip.domain.readmodels import AccountSummary
from telesip.importing import Issue
from telesip.services.accounts import Card, Softphone
from telesip.services.billing import SubscriptionView
from telesip.services.fleet import WorkerView
from telesip.services.imports import ImportOutcome
from telesip.services.links import LinkLine

Keyboard = InlineKeyboardMarkup
BADGES = {
    "registered": "🟢",
    "auth_failed": "🔴",
    "unreachable": "🟠",
    "failed": "🔴",
    "disabled": "⏸",
}


def _kb(*rows: list[InlineKeyboardButton]) -> Keyboard:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def _cb(
    text: str,
    data: AccountCb | NewCb | OfferCb | LinkCb | DraftCb | WorkerCb | RewriteCb | ImportCb,
) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def badge(a: AccountSummary) -> str:
    if not a.enabled:
        return BADGES["disabled"]
    return BADGES.get(a.reg_state, "⚪")


def user_label(name: str) -> str:
    return escape(name)


# ------------------------------------------------------------------ /softphone and cards


#: list entries per page (/softphone, /links): a page stays well under Telegram's 4096
#: characters and 100 buttons
PAGE_SIZE = 20


def pager(
    lang: str, total: int, page: int, to_page: Callable[[int], AccountCb | LinkCb]
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
        nav.append(_cb(t(lang, "btn.prev"), to_page(page - 1)))
    if page < pages - 1:
        nav.append(_cb(t(lang, "btn.next"), to_page(page + 1)))
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
        rows.append([_cb(label, AccountCb(act="open", id=account_id))])
    lines += footer
    rows += nav
    if table_url and sp.owned:
        table = WebAppInfo(url=table_url)
        rows.append([InlineKeyboardButton(text=t(lang, "miniapp.open"), web_app=table)])
    rows.append([_cb(t(lang, "btn.new"), NewCb(act="start"))])
    return "\n".join(lines), _kb(*rows)


def _state(lang: str, a: AccountSummary) -> str:
    enabled = t(lang, "state.enabled" if a.enabled else "state.disabled")
    reg = t(lang, f"reg.{a.reg_state}") if has(f"reg.{a.reg_state}") else escape(a.reg_state)
    code = f" {a.reg_code}" if a.reg_code else ""
    return f"{badge(a)} {enabled}, {reg}{code}"


def reg_why(lang: str, code: int | None, phrase: str | None) -> str:
    """Why a SIP account is not registered, in words (the SIP status only as a last resort)."""
    if code in (401, 403, 407):
        return t(lang, "regwhy.auth")
    if code == 404:
        return t(lang, "regwhy.not_found")
    if code in (408, 480, 503, 504) or (code is None and phrase and "timeout" in phrase.lower()):
        return t(lang, "regwhy.no_answer")
    if code is not None and code >= 500:
        return t(lang, "regwhy.server")
    if code is not None:
        return t(lang, "regwhy.other", code=code, phrase=escape(phrase or ""))
    return escape(phrase or "")


def card(lang: str, c: Card) -> tuple[str, Keyboard]:
    """The account card: everything for the owner, calls-only for an assigned user (R5)."""
    a = c.summary
    i = a.id
    lines = [t(lang, "card.title", id=i)]
    if c.role is Role.OWNER:
        port = f":{a.port}" if a.port else ""
        lines.append(
            t(
                lang,
                "card.server",
                domain=escape(a.domain),
                port=port,
                transport=a.transport.upper(),
            )
        )
        lines.append(t(lang, "card.login", login=escape(a.login)))
    else:
        lines.append(t(lang, "card.owner", owner=user_label(a.owner_label)))
    lines.append(t(lang, "card.state", state=_state(lang, a)))
    if a.reg_error or (a.reg_code and a.reg_code >= 300):
        lines.append(t(lang, "card.reg_error", error=reg_why(lang, a.reg_code, a.reg_error)))
    lines.append(t(lang, "card.record_on" if c.recording else "card.record_off"))
    if c.role is Role.OWNER:
        lines.append(
            t(lang, "card.user", user=user_label(a.user_label))
            if a.assigned
            else t(lang, "card.user_self")
        )
        lines.append(t(lang, "card.payer", payer=t(lang, f"payer.{a.payer.value}")))
        if a.duplicate:
            lines.append(t(lang, "card.duplicate"))
        if c.pending_offer is not None:
            lines.append(t(lang, "card.pending"))
        if firewall := describe(c.firewall):  # IP addresses only, never a host name
            addresses = ", ".join(f"<code>{escape(x)}</code>" for x in firewall)
            lines.append(t(lang, "card.firewall", addresses=addresses))
        return "\n".join(lines), owner_keyboard(lang, a)
    lines.append(t(lang, "card.payer", payer=t(lang, "payer.owner_plan_user")))
    lines.append(t(lang, "card.assigned_note"))
    return "\n".join(lines), _kb(
        [
            _cb(t(lang, "btn.send_back"), AccountCb(act="sendback", id=i)),
            _cb(t(lang, "btn.delete"), AccountCb(act="delete", id=i)),
        ],
        [_cb(t(lang, "btn.back"), AccountCb(act="list", id=0))],
    )


def owner_keyboard(lang: str, a: AccountSummary) -> Keyboard:
    i = a.id
    toggle = (
        _cb(t(lang, "btn.disable"), AccountCb(act="disable", id=i))
        if a.enabled
        else _cb(t(lang, "btn.enable"), AccountCb(act="enable", id=i))
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
    if not current_inline():  # inline mode is off in BotFather: say so instead of a dead query
        transfer = _cb(t(lang, "btn.transfer"), AccountCb(act="noinline", id=i))
    second = [transfer]
    if a.assigned:
        second.append(_cb(t(lang, "btn.take_back"), AccountCb(act="takeback", id=i)))
    return _kb(
        [_cb(t(lang, "btn.settings"), AccountCb(act="settings", id=i)), toggle],
        second,
        [_cb(t(lang, "btn.delete"), AccountCb(act="delete", id=i))],
        [_cb(t(lang, "btn.back"), AccountCb(act="list", id=0))],
    )


def confirm_delete(lang: str, account_id: int, role: Role) -> tuple[str, Keyboard]:
    owner = role is Role.OWNER
    text = t(lang, "card.confirm_delete" if owner else "card.confirm_return", id=account_id)
    yes = t(lang, "btn.yes_delete" if owner else "btn.yes_return")
    return text, _kb(
        [
            _cb(yes, AccountCb(act="delete_ok", id=account_id)),
            _cb(t(lang, "btn.cancel"), AccountCb(act="open", id=account_id)),
        ]
    )


def unused(lang: str, rows: Sequence[AccountSummary], days: int) -> tuple[str, Keyboard]:
    """/unused (R11): the owner's unused accounts, a Disable button each (at most 50)."""
    if not rows:
        return t(lang, "unused.none", days=days), _kb()
    lines = [t(lang, "unused.title", days=days)]
    lines += [f"#{a.id} {escape(a.login)}@{escape(a.domain)}" for a in rows[:50]]
    buttons = [
        [_cb(t(lang, "unused.disable", id=a.id), AccountCb(act="udisable", id=a.id))]
        for a in rows[:50]
    ]
    return "\n".join(lines), _kb(*buttons)


def confirm_card_send_back(lang: str, account_id: int) -> tuple[str, Keyboard]:
    return t(lang, "card.confirm_return", id=account_id), _kb(
        [
            _cb(t(lang, "btn.yes_return"), AccountCb(act="sendback_ok", id=account_id)),
            _cb(t(lang, "btn.cancel"), AccountCb(act="open", id=account_id)),
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
        _cb(
            ("• " if values.get("transport") == tr else "") + tr.upper(),
            AccountCb(act=f"tr_{tr}", id=account_id),
        )
        for tr in ("udp", "tcp", "tls")
    ]
    return "\n".join(lines), _kb(
        transports,
        [
            _cb(
                t(lang, "btn.record_off" if record else "btn.record_on"),
                AccountCb(act="rec_off" if record else "rec_on", id=account_id),
            )
        ],
        [_cb(t(lang, "btn.edit_line"), AccountCb(act="edit", id=account_id))],
        [_cb(t(lang, "btn.rewrite"), RewriteCb(act="list", id=account_id))],
        [_cb(t(lang, "btn.back"), AccountCb(act="open", id=account_id))],
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
        _cb(f"✖ {n}", RewriteCb(act="del", id=account_id, i=n - 1, h=rule_digest(p, r)))
        for n, (p, r) in enumerate(rules, 1)
    ]
    return "\n".join(lines), _kb(
        *(remove[i : i + 5] for i in range(0, len(remove), 5)),
        [_cb(t(lang, "btn.rw_add"), RewriteCb(act="add", id=account_id))],
        [_cb(t(lang, "btn.back"), AccountCb(act="settings", id=account_id))],
    )


# ------------------------------------------------------------------ New-account wizard


def cancel_kb(lang: str) -> Keyboard:
    return _kb([_cb(t(lang, "btn.cancel"), NewCb(act="cancel"))])


def skip_kb(lang: str) -> Keyboard:
    return _kb(
        [
            _cb(t(lang, "btn.skip"), NewCb(act="skip")),
            _cb(t(lang, "btn.cancel"), NewCb(act="cancel")),
        ]
    )


def templates_kb(lang: str, found: list[tuple[str, str]]) -> Keyboard:
    """Server templates (R: prefill the server fields) under the server prompt."""
    rows = [[_cb(name[:40], NewCb(act="tpl", value=tid[:40]))] for tid, name in found]
    return _kb(*rows, [_cb(t(lang, "btn.cancel"), NewCb(act="cancel"))])


def transport_kb(lang: str) -> Keyboard:
    return _kb(
        [_cb(tr.upper(), NewCb(act="transport", value=tr)) for tr in ("udp", "tcp", "tls")],
        [_cb(t(lang, "btn.cancel"), NewCb(act="cancel"))],
    )


# ------------------------------------------------------------------ transfer (inline mode)


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
                reply_markup=_kb([_cb(t(lang, "btn.receive"), DraftCb(token=draft))]),
            )
        )
    return results


def receive_kb(lang: str, until: datetime | None = None) -> Keyboard:
    """Receive; the data names nothing: the offer is the one the pressed message carries."""
    text = t(lang, "btn.receive")
    if until is not None:
        text += t(lang, "offer.until", until=until.strftime("%H:%M UTC"))
    return _kb([_cb(text, OfferCb(act="rcv"))])


def received_kb(lang: str, account_id: int, method: Method) -> Keyboard:
    """After a Receive: Send back (R8) always, Transfer back (R7) after an unlink."""
    send_back = _cb(t(lang, "btn.send_back"), OfferCb(act="sb", id=account_id))
    if method is Method.ASSIGN:
        return _kb([send_back])
    return _kb(
        [
            InlineKeyboardButton(
                text=t(lang, "btn.transfer_back"),
                switch_inline_query_current_chat=f"{account_id} ",
            ),
            send_back,
        ]
    )


def confirm_send_back_kb(lang: str, account_id: int) -> Keyboard:
    return _kb(
        [
            _cb(t(lang, "btn.yes_send_back"), OfferCb(act="sbok", id=account_id)),
            _cb(t(lang, "btn.cancel"), OfferCb(act="sbno", id=account_id)),
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
        reply_markup=_kb([InlineKeyboardButton(text=t(lang, "btn.open_bot"), url=bot_url)]),
    )


# ------------------------------------------------------------------ links, plans, misc


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
                [_cb(t(lang, "btn.revoke", id=link.account_id), LinkCb(act="revoke", id=link.id))]
            )
    lines += footer
    rows += nav
    rows.append([_cb(t(lang, "btn.new_link"), LinkCb(act="new"))])
    rows.append([_cb(t(lang, "btn.new_link_account"), NewCb(act="start", value="link"))])
    return "\n".join(lines), _kb(*rows)


def pick_account(lang: str, accounts: list[AccountSummary], page: int = 0) -> tuple[str, Keyboard]:
    """New link: which SIP account (paged: Telegram allows 100 buttons a message)."""
    if not accounts:
        return t(lang, "links.none_to_pick"), _kb()
    window, footer, nav = pager(lang, len(accounts), page, lambda p: LinkCb(act="new", id=p))
    rows = [
        [_cb(f"#{a.id} {a.login}@{a.domain}", LinkCb(act="make", id=a.id))]
        for a in accounts[window]
    ]
    return "\n".join([t(lang, "links.pick"), *footer]), _kb(*rows, *nav)


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
    rows = [[_cb(t(lang, "btn.new_worker"), WorkerCb(act="new"))]]
    rows += [
        [_cb(t(lang, "btn.revoke_worker", name=w.name), WorkerCb(act="revoke", id=w.id))]
        for w in found
        if w.owner_id == me and not w.revoked
    ]
    return "\n".join(lines), _kb(*rows)


# -- importing accounts from a file sent to the bot ------------------------------------------

#: per-line problems shown in a preview; the rest are counted
PREVIEW_ISSUES = 10


def import_issue(lang: str, found: Issue) -> str:
    """One problem of an import file in ``lang`` (its values escaped), with its line."""
    params = {k: v if isinstance(v, int) else escape(str(v)) for k, v in found.params.items()}
    try:
        text = t(lang, found.code).format(**params)  # a param may be named "key"
    except (KeyError, IndexError, ValueError):
        text = escape(found.text)
    return t(lang, "import.line", line=found.line, text=text) if found.line else text


def import_preview(
    lang: str, outcome: ImportOutcome, filename: str | None
) -> tuple[str, Keyboard | None]:
    """The preview of a file: counts, seats, the first problems, users not known yet; Import
    and Cancel when there is something to write and the seats suffice."""
    plan = outcome.plan
    if plan.refused:
        text = t(lang, "imp.refused", reason=import_issue(lang, plan.issues[0]))
        if plan.issues[0].code == "import.server_required":
            text += "\n\n" + t(lang, "imp.server_hint")
        return text, None
    c = plan.counts
    name = escape(filename or "file")
    lines = [
        t(lang, "imp.preview", filename=name, format=escape(plan.format or "?")),
        t(
            lang,
            "imp.counts",
            new=c.new,
            changed=c.changed,
            identical=c.identical,
            taken=c.taken,
            errors=c.errors,
        ),
    ]
    if outcome.free_seats is not None and plan.seats_needed:
        lines.append(t(lang, "imp.seats", needed=plan.seats_needed, free=outcome.free_seats))
    shown = [*plan.issues, *plan.notes][:PREVIEW_ISSUES]
    lines += [import_issue(lang, found) for found in shown]
    hidden = len(plan.issues) + len(plan.notes) - len(shown)
    if hidden > 0:
        lines.append(t(lang, "imp.more", count=hidden))
    if outcome.unassigned:
        who = ", ".join(escape(str(u.telegram)) for u in outcome.unassigned[:PREVIEW_ISSUES])
        lines.append(t(lang, "imp.unassigned", who=who))
    if not (plan.new or plan.changed):
        lines.append(t(lang, "imp.nothing"))
        return "\n".join(lines), None
    if outcome.missing_seats:
        lines.append(t(lang, "imp.seats_missing", missing=outcome.missing_seats))
        return "\n".join(lines), None
    lines.append(t(lang, "imp.confirm"))
    kb = _kb(
        [
            _cb(t(lang, "btn.import"), ImportCb(act="go")),
            _cb(t(lang, "btn.cancel"), ImportCb(act="no")),
        ]
    )
    return "\n".join(lines), kb


def import_done(lang: str, outcome: ImportOutcome) -> str:
    return t(
        lang,
        "imp.done",
        new=len(outcome.created),
        changed=len(outcome.updated),
        assigned=outcome.assigned,
    )
