"""Parsed rows -> account settings, by the rules every account obeys
(:meth:`AccountSettings.validated`, not a copy of them), plus what only an import has: the
server given once, server templates filling what a row leaves out, the Telegram user to assign.

Precedence for a field: the row's value; then (PBX formats) the server given with the file, or
(CSV) that server for a row that names none; then the row's template; then the defaults of
:class:`AccountSettings`. A TLS row takes the template's ``tls_port``.

Invariants: one row gives one :class:`ImportRow` or one issue; an issue's text names the field
and the login, never the password; the domain's reason texts are mapped to stable codes here,
and a reason no code knows still reaches the person as ``import.bad_settings``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from telesip.domain.errors import InvalidSettings
from telesip.domain.settings import AccountSettings, Secret
from telesip.importing.issues import Issue, Refused, issue
from telesip.importing.parse import CSV, ParseResult
from telesip.importing.rows import ParsedRow

_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{4,31}$")  # Telegram: 5-32 characters
_SERVER = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>\d{1,5}))?$")

#: the start of a domain reason -> the issue code (longest first where one starts another)
_REASONS = (
    ("login", "import.bad_login"),
    ("password", "import.bad_password"),
    ("auth username", "import.bad_auth_user"),
    ("server", "import.bad_server"),
    ("registrar", "import.bad_registrar"),
    ("outbound proxy", "import.bad_proxy"),
    ("transport", "import.bad_transport"),
    ("port", "import.bad_port"),
    ("display name", "import.bad_display_name"),
)


@dataclass(frozen=True)
class ServerDefaults:
    """A server template's fields, as the caller read them (``services.templates``)."""

    domain: str | None = None
    transport: str | None = None
    port: int | None = None
    tls_port: int | None = None
    expires: int | None = None
    dtmf_mode: str | None = None
    registrar: str | None = None
    outbound_proxy: str | None = None


@dataclass(frozen=True)
class ImportRow:
    """A valid account from the file: its settings (validated, password a ``Secret``), the
    template it named, and the Telegram user to assign it to (an id, or ``@username``)."""

    line: int
    settings: AccountSettings
    template: str | None = None
    telegram: int | str | None = None
    #: the settings fields the file states for this row (a value, or its template's); a
    #: re-import compares and changes only these
    stated: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Validated:
    format: str | None
    rows: tuple[ImportRow, ...]
    issues: tuple[Issue, ...]
    notes: tuple[Issue, ...] = ()

    @property
    def refused(self) -> bool:
        return any(i.fatal for i in self.issues)

    @property
    def identities(self) -> frozenset[str]:
        """The rows' ``AccountSettings.identity``: what the service looks up (the owner's
        accounts and other owners') before :func:`~telesip.importing.plan.plan`."""
        return frozenset(row.settings.identity for row in self.rows)


def split_server(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); refuses anything else."""
    match = _SERVER.match(text.strip())
    port = int(match["port"]) if match and match["port"] else None
    if match is None or (port is not None and not 1 <= port <= 65535):
        raise Refused(
            issue("import.bad_default_server", reason="expected HOST or HOST:PORT", fatal=True)
        )
    return match["host"], port


def validate(
    parsed: ParseResult,
    *,
    server: str | None = None,
    templates: Mapping[str, ServerDefaults] | None = None,
) -> Validated:
    """Check every row. ``templates``: the templates a row may name (``None``: templates are
    not resolved, a row's template is only carried). The PBX formats' templates (``freepbx``,
    ``asterisk`` ...) are hints: one missing from ``templates`` is passed over."""
    if parsed.refused:
        return Validated(parsed.format, (), parsed.issues, parsed.notes)
    host: str | None = None
    port: int | None = None
    if server:
        try:
            host, port = split_server(server)
            AccountSettings(login="x", password=Secret("x"), domain=host).validated()
        except Refused as refused:
            return Validated(parsed.format, (), (refused.issue,))
        except InvalidSettings as exc:
            found = issue("import.bad_default_server", reason=exc.params.get("reason"), fatal=True)
            return Validated(parsed.format, (), (found,))
    pbx = parsed.format != CSV
    rows: list[ImportRow] = []
    issues = list(parsed.issues)
    for row in parsed.rows:
        result = _row(row, host, port, pbx, templates)
        if isinstance(result, Issue):
            issues.append(result)
        else:
            rows.append(result)
    issues.sort(key=lambda i: i.line or 0)
    return Validated(parsed.format, tuple(rows), tuple(issues), parsed.notes)


def _row(
    row: ParsedRow,
    host: str | None,
    port: int | None,
    pbx: bool,
    templates: Mapping[str, ServerDefaults] | None,
) -> ImportRow | Issue:
    line, login = row.line, row.login or ""
    shown = login[:64]  # for messages
    if not row.login:
        return issue("import.missing_login", line)
    if row.password is None:
        return issue("import.missing_password", line, login=shown)
    for column, text in row.values().items():  # a quoted CSV value may span lines
        if column != "password" and text is not None and "\n" in text:
            return issue("import.multiline_value", line, login=shown, column=column)
    template = ServerDefaults()
    if row.template and templates is not None:
        if row.template in templates:
            template = templates[row.template]
        elif not pbx:  # a PBX format's template is the parser's hint, not the person's word
            return issue("import.unknown_template", line, value=row.template)
    row_port: int | None = None
    if row.port is not None:
        if not row.port.isdigit() or len(row.port) > 5:
            return issue("import.bad_port", line, login=shown)
        row_port = int(row.port)
    if pbx:
        domain, chosen_port = host, port or row_port
    elif row.server:
        domain, chosen_port = row.server, row_port
    else:
        domain, chosen_port = host, row_port or port
    domain = domain or template.domain
    if not domain:
        return issue("import.missing_server", line, login=shown)
    transport = (row.transport or template.transport or "udp").lower()
    if chosen_port is None:
        chosen_port = template.tls_port if transport == "tls" else template.port
    telegram = _telegram(row.telegram)
    if telegram is None and row.telegram:
        return issue("import.bad_telegram_user", line, login=shown)
    settings = AccountSettings(
        login=login,
        password=row.password,
        domain=domain,
        auth_username=row.auth_user,
        registrar=row.registrar or template.registrar,
        outbound_proxy=row.proxy or template.outbound_proxy,
        transport=transport,
        port=chosen_port,
        display_name=row.display_name,
        expires=template.expires or AccountSettings.expires,
        dtmf_mode=template.dtmf_mode or AccountSettings.dtmf_mode,
    )
    try:
        valid = settings.validated()
    except InvalidSettings as exc:
        return _reason_issue(line, shown, str(exc.params.get("reason", "")))
    stated = {
        name
        for name, value in (
            ("auth_username", row.auth_user or pbx),
            ("registrar", row.registrar or template.registrar),
            ("outbound_proxy", row.proxy or template.outbound_proxy),
            ("transport", row.transport or template.transport),
            ("display_name", row.display_name),
            ("expires", template.expires),
            ("dtmf_mode", template.dtmf_mode),
        )
        if value
    }
    return ImportRow(line, valid, row.template, telegram, frozenset(stated))


def _telegram(value: str | None) -> int | str | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit() and len(value) <= 15 and int(value) > 0:
        return int(value)
    if _USERNAME.match(value):
        return value.lower()
    return None


def _reason_issue(line: int, login: str, reason: str) -> Issue:
    for prefix, code in _REASONS:
        if reason.startswith(prefix):
            # the reason goes along only where it names no value (a host's reason quotes it)
            if code in ("import.bad_password", "import.bad_auth_user"):
                return issue(code, line, login=login, reason=reason)
            return issue(code, line, login=login)
    return issue("import.bad_settings", line, login=login, reason=reason)
