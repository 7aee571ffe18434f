"""What can go wrong in an import file, as values: an :class:`Issue` has a stable ``code``
(``import.bad_port``) the bot and the API translate, the line it is about, and an English
``message`` that is the fallback and what the CLI prints.

Invariants: an issue never holds a password, a raw line of the file, or a cell's value other
than the login, a section's and a template's name (a row whose columns slipped may hold part of
a password in any other cell): only column names, logins, numbers and the domain's reason texts
that name no value; ``fatal`` issues refuse the
whole file (nothing is imported), the others refuse one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: code -> English text (``str.format`` with the issue's params). The codes are part of the
#: contract with the bot's and the API's catalogs: never rename one, add new ones.
MESSAGES: Mapping[str, str] = {
    # the file as a whole (fatal)
    "import.empty": "The file is empty.",
    "import.too_large": "The file is larger than {limit} bytes; split it into smaller files.",
    "import.too_many_rows": (
        "The file has more than {limit} accounts; split it into files of at most {limit}."
    ),
    "import.line_too_long": ("The line is longer than {limit} characters; is this the right file?"),
    "import.bad_encoding": (
        "The file is not readable text (an unknown encoding, or not a text file); save it as"
        " UTF-8 text and send it again."
    ),
    "import.not_text": (
        "This is a {kind} file, not text; save the table as CSV (UTF-8) and send that."
    ),
    "import.unknown_format": (
        "Not a known import format: expected a CSV with a header row (login;password;server"
        " ...), a FreePBX Bulk Handler extensions export, pjsip.conf or sip.conf."
    ),
    "import.missing_columns": "The header row has no column for: {columns}.",
    "import.server_required": (
        "Extensions of a PBX register to the PBX: give its address (server) with the file."
    ),
    "import.bad_default_server": "The server given with the file is not valid: {reason}",
    "import.include_refused": (
        "'{directive}' is not followed; put the included file's sections in this"
        " file (or send that file too)."
    ),
    "import.no_accounts": "The file holds no SIP accounts to import.",
    # one row
    "import.field_count": (
        "{found} fields where the header has {expected}: a value containing the separator"
        " '{delimiter}' must be in double quotes."
    ),
    "import.bad_quoting": "a quoted value is not closed.",
    "import.bad_syntax": "expected [section], key = value or a ; comment.",
    "import.unknown_parent": "section [{section}] inherits from unknown [{parent}].",
    "import.missing_login": "the login is empty.",
    "import.missing_password": "account {login} has no password.",
    "import.missing_server": "account {login} has no server.",
    "import.bad_login": "the login must be 1-128 characters without spaces.",
    "import.bad_password": "the password of {login} is not valid ({reason}).",
    "import.bad_server": ("the server of {login} is not a host name or an IP address."),
    "import.bad_registrar": ("the registrar of {login} is not a host name or an IP address."),
    "import.bad_proxy": ("the outbound proxy of {login} is not a host name or an IP address."),
    "import.bad_port": "the port of {login} is not a number from 1 to 65535.",
    "import.bad_transport": "the transport of {login} is not udp, tcp or tls.",
    "import.bad_auth_user": "the auth user of {login} is not valid ({reason}).",
    "import.bad_display_name": "the display name of {login} is too long.",
    "import.multiline_value": "the {column} of {login} spans several lines.",
    "import.bad_settings": "account {login}: {reason}.",
    "import.bad_telegram_user": (
        "the Telegram user of {login} is not a user id (digits) or an @username."
    ),
    "import.unknown_template": "there is no server template {value!r}.",
    "import.unsupported_tech": (
        "extension {login} uses {tech}; only SIP (chan_sip or PJSIP) extensions can be imported."
    ),
    "import.hashed_password": (
        "{login} has only a hashed password ({key}); telesip needs the plain password to register."
    ),
    "import.no_auth": "endpoint {login} has no auth section with a password.",
    "import.no_aor": "endpoint {login} has no AOR, so it cannot register.",
    "import.duplicate_row": ("{login} at {server} is already on line {first_line} of this file."),
    # notes: imported anyway, or deliberately left out
    "import.note.cp1251": "The file is not UTF-8; it was read as Windows-1251 (Cyrillic).",
    "import.note.ignored_columns": "Columns ignored: {columns}.",
    "import.note.trunk_skipped": ("[{section}] looks like a trunk, not an extension; skipped."),
    "import.note.not_registering": ("[{section}] does not register (type={kind}); skipped."),
}


@dataclass(frozen=True)
class Issue:
    """One problem (or note) about an import file, ready to be translated by ``code``."""

    code: str
    line: int | None = None  # 1-based line of the file; None: the file as a whole
    params: Mapping[str, Any] = field(default_factory=dict)
    fatal: bool = False

    @property
    def text(self) -> str:
        """The English text without the line number."""
        template = MESSAGES.get(self.code, self.code)
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):  # a param missing: still say something
            return template

    @property
    def message(self) -> str:
        """``Line 17: ...`` (just the text for the file as a whole)."""
        return f"Line {self.line}: {self.text}" if self.line is not None else self.text


def issue(code: str, line: int | None = None, *, fatal: bool = False, **params: Any) -> Issue:
    if code not in MESSAGES:
        raise ValueError(f"unknown import issue code {code!r}")
    return Issue(code=code, line=line, params=params, fatal=fatal)


class Refused(Exception):
    """Internal: a fatal issue stops reading; :func:`telesip.importing.parse` turns it into a
    value. Never escapes the package."""

    def __init__(self, found: Issue) -> None:
        super().__init__(found.code)
        self.issue = found
