"""The Mini App's HTML: the page shell and the fragments the page asks for (pure functions).

Escaping happens here and only here: every value that came from a person or a PBX (logins,
names, registration errors) goes through ``_e``. Fragments carry no script and no inline
style, so the page's Content-Security-Policy can forbid both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from telesip.domain.readmodels import AccountSummary
from telesip.miniapp.form import CHOICES, FIELDS, OPTIONAL
from telesip.miniapp.table import SORTS, Page, last_error
from telesip.miniapp.texts import payer_text, state_text, t

__all__ = ["app", "links", "settings_form", "shell", "table"]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def shell(version: str) -> str:
    """The page Telegram opens: no data and no words until it has proved who is asking."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>telesip</title>
<link rel="stylesheet" href="static/app.css?v={version}">
<script src="https://telegram.org/js/telegram-web-app.js" async></script>
<script src="static/app.js?v={version}" defer></script>
</head>
<body>
<div id="notice" role="status" aria-live="polite" hidden></div>
<main id="app" aria-busy="true"></main>
</body>
</html>
"""


def app(lang: str, table_html: str, unused_days: int = 30) -> str:
    """The list view: search, bulk actions and the table (the detail view replaces it)."""
    sort_options = "".join(
        f'<option value="{name}">{_e(_column_title(lang, name))}</option>' for name in SORTS
    )
    return f"""<section id="list" data-lang="{lang}">
<header class="bar">
<h1>{_e(t(lang, "miniapp.title"))}</h1>
<input id="q" type="search" autocomplete="off" placeholder="{_e(t(lang, "miniapp.search"))}"
 aria-label="{_e(t(lang, "miniapp.search"))}" maxlength="100">
<select id="sort" aria-label="sort">{sort_options}</select>
</header>
<div class="bulk" id="bulk" data-selected="{_e(t(lang, "miniapp.selected", count="{count}"))}">
<span id="selected-count">{_e(t(lang, "miniapp.selected", count=0))}</span>
<button type="button" data-bulk="disable" disabled>{_e(t(lang, "miniapp.disable"))}</button>
<button type="button" data-bulk="enable" disabled>{_e(t(lang, "miniapp.enable"))}</button>
<button type="button" data-bulk="links" disabled>{_e(t(lang, "miniapp.links"))}</button>
<button type="button" data-bulk="export" disabled>{_e(t(lang, "miniapp.export"))}</button>
<button type="button" data-bulk="sheet" disabled>{_e(t(lang, "miniapp.sheet"))}</button>
<button type="button" data-unused>{_e(t(lang, "miniapp.unused", days=unused_days))}</button>
</div>
<div id="result" hidden></div>
<div id="table">{table_html}</div>
</section>
<section id="detail" hidden></section>
"""


def _column_title(lang: str, name: str) -> str:
    return "#" if name == "id" else t(lang, f"miniapp.col.{name}")


def table(lang: str, page: Page) -> str:
    q = page.query
    heads = []
    for name in SORTS:
        current = name == q.sort
        aria = ("descending" if q.descending else "ascending") if current else "none"
        arrow = ("▼" if q.descending else "▲") if current else ""
        heads.append(
            f'<th aria-sort="{aria}"><button type="button" class="sort" data-sort="{name}">'
            f"{_e(_column_title(lang, name))}{arrow}</button></th>"
        )
    rows = "".join(_row(lang, a) for a in page.rows)
    if not page.rows:
        rows = f'<tr class="empty"><td colspan="7">{_e(t(lang, "miniapp.empty"))}</td></tr>'
    total = _e(t(lang, "miniapp.total", total=page.total))
    return f"""<p class="total" id="total" data-matching="{page.matching}">{total}</p>
<table class="accounts">
<thead><tr><th class="sel"><input type="checkbox" id="select-page"
 aria-label="{_e(t(lang, "miniapp.select_page"))}"></th>{"".join(heads)}</tr></thead>
<tbody>{rows}</tbody>
</table>
{_pager(lang, page)}"""


def _row(lang: str, a: AccountSummary) -> str:
    def cell(column: str, value: str, cls: str = "") -> str:
        label = _e(_column_title(lang, column))
        return f'<td data-label="{label}"{f" class={cls!r}" if cls else ""}>{value}</td>'

    state = "off" if not a.enabled else a.reg_state
    user = _e(a.user_label) if a.assigned else "—"
    return (
        f'<tr data-id="{a.id}"><td class="sel"><input type="checkbox" name="id" value="{a.id}"'
        f' aria-label="#{a.id}"></td>'
        + cell(
            "id", f'<button type="button" class="open" data-open="{a.id}">#{a.id}</button>', "id"
        )
        + cell("account", f"{_e(a.login)}@{_e(a.domain)}", "account")
        + cell("state", f'<span class="state st-{_e(state)}">{_e(state_text(lang, a))}</span>')
        + cell("user", user)
        + cell("payer", _e(payer_text(lang, a)))
        + cell("error", _e(last_error(a)), "error")
        + "</tr>"
    )


def _pager(lang: str, page: Page) -> str:
    if page.pages <= 1:
        return ""
    n = page.query.page
    text = t(
        lang,
        "list.page",
        page=n + 1,
        pages=page.pages,
        first=page.first + 1,
        last=page.first + len(page.rows),
        total=page.matching,
    )
    prev = (
        f'<button type="button" data-page="{n - 1}">{_e(t(lang, "btn.prev"))}</button>'
        if n > 0
        else ""
    )
    nxt = (
        f'<button type="button" data-page="{n + 1}">{_e(t(lang, "btn.next"))}</button>'
        if n + 1 < page.pages
        else ""
    )
    return f'<nav class="pager">{prev}<span>{_e(text)}</span>{nxt}</nav>'


def outcome(lang: str, done: int, refused: Sequence[tuple[int, str]]) -> str:
    lines = "".join(f"<li>#{i}: {_e(why)}</li>" for i, why in refused)
    summary = _e(t(lang, "miniapp.bulk_done", done=done, refused=len(refused)))
    return f"<p>{summary}</p>" + (f'<ul class="refused">{lines}</ul>' if lines else "")


def unused(lang: str, rows: Sequence[AccountSummary], days: int) -> str:
    """The unused accounts (R11), each with a one-press Disable (``data-udisable``)."""
    head = f"<h2>{_e(t(lang, 'miniapp.unused', days=days))}</h2>"
    if not rows:
        return head + f"<p>{_e(t(lang, 'miniapp.unused_none'))}</p>"
    items = "".join(
        f"<li>#{a.id} {_e(a.login)}@{_e(a.domain)} "
        f'<button type="button" data-udisable="{a.id}">{_e(t(lang, "miniapp.disable"))}</button>'
        "</li>"
        for a in rows
    )
    return head + f'<ul class="unused">{items}</ul>'


def links(
    lang: str,
    made: Sequence[tuple[int, str]],
    expires: datetime | None,
    refused: Sequence[tuple[int, str]],
) -> str:
    """The links just made (account id, deep link), one per line, to copy and hand out."""
    items = "".join(
        f'<li>#{i}: <a href="{_e(url)}" target="_blank" rel="noopener">{_e(url)}</a></li>'
        for i, url in made
    )
    head = ""
    if items and expires is not None:
        when = expires.strftime("%Y-%m-%d %H:%M UTC")
        head = f"<p>{_e(t(lang, 'miniapp.links_title', expires=when))}</p>"
        head += f"<p>{_e(t(lang, 'miniapp.links_note'))}</p>"
    body = f'<ul class="links">{items}</ul>' if items else ""
    return head + body + outcome(lang, len(made), refused)


def settings_form(
    lang: str,
    account_id: int,
    values: Mapping[str, Any],
    etag: str | None,
    errors: Mapping[str, str],
    notice: str = "",
    form_error: str = "",
) -> str:
    """The settings of one account, errors next to their fields (``aria-invalid``)."""
    fields = "".join(_field(lang, name, values, errors.get(name)) for name in FIELDS)
    top = f'<p class="ok" role="status">{_e(notice)}</p>' if notice else ""
    if form_error:
        top += f'<p class="err" role="alert">{_e(form_error)}</p>'
    back = _e(t(lang, "miniapp.back"))
    return f"""<header class="bar"><button type="button" data-back>{back}</button>
<h1>{_e(t(lang, "miniapp.settings_title", id=account_id))}</h1></header>
{top}<form id="settings" data-account="{account_id}" novalidate>
<input type="hidden" name="etag" value="{_e(etag or "")}">
{fields}
<button type="submit" class="primary">{_e(t(lang, "miniapp.save"))}</button>
</form>"""


def _field(lang: str, name: str, values: Mapping[str, Any], error: str | None) -> str:
    fid = f"f-{name}"
    label = f'<label for="{fid}">{_e(t(lang, f"miniapp.field.{name}"))}</label>'
    invalid = f' aria-invalid="true" aria-describedby="{fid}-err"' if error else ""
    value = values.get(name)
    if name == "record":
        checked = " checked" if value else ""
        control = f'<input type="checkbox" id="{fid}" name="{name}"{checked}{invalid}>'
        return f'<div class="field check">{control}{label}{_error(fid, error)}</div>'
    if name in CHOICES:
        options = "".join(
            f'<option value="{c}"{" selected" if c == value else ""}>{c}</option>'
            for c in CHOICES[name]
        )
        control = f'<select id="{fid}" name="{name}"{invalid}>{options}</select>'
    else:
        shown = ", ".join(value) if isinstance(value, (list, tuple)) else value
        kind = "password" if name == "password" else "text"
        mode = ' inputmode="numeric"' if name in ("port", "expires") else ""
        hint = ""
        if name == "password":
            hint = t(lang, "miniapp.password_hint")
        elif name in OPTIONAL or name == "port":
            hint = t(lang, "miniapp.optional_hint")
        placeholder = f' placeholder="{_e(hint)}"' if hint else ""
        text = "" if name == "password" or shown is None else _e(shown)
        control = (
            f'<input type="{kind}" id="{fid}" name="{name}" value="{text}"{mode}{placeholder}'
            f' autocomplete="off"{invalid}>'
        )
    return f'<div class="field">{label}{control}{_error(fid, error)}</div>'


def _error(fid: str, error: str | None) -> str:
    return f'<p class="err" id="{fid}-err">{_e(error)}</p>' if error else ""
