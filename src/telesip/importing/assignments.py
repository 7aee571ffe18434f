"""A bulk assignment file: one row per account, ``account,user`` (docs/bulk.md).

``account`` is the account's numeric ID (``1042`` or ``#1042``) or its login (unique among
the owner's accounts); under a header naming the first column ``login`` every value is a login
(extensions are often digits). ``user`` is a Telegram user id (digits) or ``@username``. The
header row (``account,user`` or ``login,user``) is optional; the separator is ``,``, ``;`` or
a tab; the file's encoding is found as an import's is (``source.TextSource``: a BOM, UTF-8,
Windows-1251). Pure: it reads bytes and returns rows, or raises ``BadAssignments`` for the
first problem (nothing is assigned from a file with one bad line).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from typing import BinaryIO

from telesip.domain.errors import BadAssignments
from telesip.importing.issues import Refused
from telesip.importing.source import Limits, Redecode, TextSource

MAX_ROWS = 5000
_HEADER = {"account", "account_id", "id", "аккаунт"}
_LOGIN_HEADER = {"login", "extension", "логин"}
_USERNAME = re.compile(r"^@[A-Za-z0-9_]{3,32}$")
_ID = re.compile(r"^#?([0-9]{1,12})$")
_REFUSED = {  # the import's whole-file issues -> this file's reasons
    "import.empty": "empty",
    "import.too_large": "too_large",
    "import.line_too_long": "line_too_long",
    "import.bad_encoding": "bad_encoding",
    "import.not_text": "not_text",
}


@dataclass(frozen=True)
class AssignmentRow:
    line: int
    account: int | str  # an id, or a login to look up among the owner's accounts
    user: int | str  # a Telegram id, or "@username"


def parse_assignments(
    stream: BinaryIO, *, max_rows: int = MAX_ROWS, max_bytes: int = 1024 * 1024
) -> list[AssignmentRow]:
    limits = Limits(max_rows=max_rows, max_line_length=1024, max_bytes=max_bytes)
    try:
        source = TextSource(stream, limits)
        try:
            lines = list(_rows(source, max_rows))
        except Redecode:
            lines = list(_rows(source, max_rows))
    except Refused as exc:
        found = exc.issue
        reason = _REFUSED.get(found.code, "bad_encoding")
        params = {k: v for k, v in found.params.items() if k in ("limit", "kind")}
        raise BadAssignments(reason, line=found.line or 0, **params) from None
    if not lines:
        raise BadAssignments("empty")
    return lines


def _rows(source: TextSource, max_rows: int) -> list[AssignmentRow]:
    out: list[AssignmentRow] = []
    by_login = False
    for number, text in source.lines():
        if not text.strip() or text.lstrip().startswith("#!"):
            continue
        cells = [c.strip() for c in next(csv.reader([text], delimiter=_delimiter(text)))]
        cells = [c for c in cells if c] if len(cells) > 2 else cells
        if not out and cells and cells[0].lower() in _HEADER | _LOGIN_HEADER:
            by_login = cells[0].lower() in _LOGIN_HEADER
            continue  # the header row
        if len(cells) != 2 or not cells[0] or not cells[1]:
            raise BadAssignments("bad_row", line=number)
        if len(out) >= max_rows:
            raise BadAssignments("too_many", limit=max_rows)
        account = cells[0] if by_login else _account(cells[0])
        out.append(AssignmentRow(number, account, _user(number, cells[1])))
    return out


def _delimiter(text: str) -> str:
    for sep in ("\t", ";"):
        if sep in text:
            return sep
    return ","


def _account(cell: str) -> int | str:
    found = _ID.match(cell)
    return int(found.group(1)) if found else cell


def _user(line: int, cell: str) -> int | str:
    if cell.isdigit() and 0 < len(cell) <= 15:
        return int(cell)
    if _USERNAME.match(cell):
        return cell.lower()
    raise BadAssignments("bad_user", line=line, value=cell[:40])
