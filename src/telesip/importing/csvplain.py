"""telesip's own CSV: one account per record, a header row naming the columns.

Columns (any order, names case-insensitive; ``;``, ``,`` or tab between them; the aliases in
:data:`ALIASES` are accepted too): ``login``, ``password`` (required), ``server`` (required
unless a server is given with the file), ``port``, ``transport``, ``registrar``, ``proxy``,
``auth_user``, ``display_name``, ``template``, ``telegram``. Unknown columns are ignored with a
note. Values are stripped of surrounding spaces, except the password, which is kept exactly as
written (quote it when it contains the separator, a quote or leading spaces).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import TextIO

from telesip.domain.settings import Secret
from telesip.importing import csvtable
from telesip.importing.issues import Issue, Refused, issue
from telesip.importing.rows import COLUMNS, ParsedRow

#: header name (normalised) -> column
ALIASES: dict[str, str] = {
    **{c: c for c in COLUMNS},
    "user": "login",
    "username": "login",
    "sip_login": "login",
    "sip_user": "login",
    "number": "login",
    "extension": "login",
    "secret": "password",
    "pass": "password",
    "sip_password": "password",
    "domain": "server",
    "host": "server",
    "sip_server": "server",
    "outbound_proxy": "proxy",
    "outboundproxy": "proxy",
    "auth_username": "auth_user",
    "authuser": "auth_user",
    "auth_name": "auth_user",
    "auth_id": "auth_user",
    "name": "display_name",
    "displayname": "display_name",
    "telegram_user": "telegram",
    "telegram_id": "telegram",
    "tg": "telegram",
}


def is_header(names: list[str]) -> bool:
    columns = {ALIASES.get(n) for n in names}
    return "login" in columns and "password" in columns


def parse(
    lines: Iterable[tuple[int, str]],
    delimiter: str,
    header: list[str],
    header_line: int,
    *,
    server_given: bool,
    max_rows: int,
    errors: list[Issue],
    notes: list[Issue],
) -> Iterator[ParsedRow]:
    """Rows of the records after ``header`` (the header's names, normalised)."""
    columns = [ALIASES.get(n, "") for n in header]
    required = ["login", "password"] + ([] if server_given else ["server"])
    missing = [c for c in required if c not in columns]
    if missing:
        raise Refused(issue("import.missing_columns", columns=", ".join(missing), fatal=True))
    ignored = [n for n, c in zip(header, columns, strict=True) if n and not c]
    if ignored:
        notes.append(issue("import.note.ignored_columns", columns=", ".join(ignored)))
    # a column named twice (login and username): the first one wins
    names = [c if c and c not in columns[:i] else "" for i, c in enumerate(columns)]
    found = csvtable.records(
        lines, delimiter, names, max_rows=max_rows, errors=errors, header_line=header_line
    )
    for record in found:
        password = record.fields.get("password") or None
        yield ParsedRow(
            line=record.line,
            password=Secret(password) if password else None,
            **{c: csvtable.cell(record, c) for c in COLUMNS if c != "password"},
        )


def write_rows(rows: Iterable[ParsedRow], out: TextIO, *, delimiter: str = ";") -> None:
    """Write ``rows`` as a plain CSV this module reads back unchanged (``out`` opened with
    ``newline=""``). For exports and tests; the output holds passwords."""
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        values = row.values()
        writer.writerow([values[c] or "" for c in COLUMNS])
