"""Importing SIP accounts from the files administrators already have: telesip's CSV, FreePBX's
Bulk Handler extensions export, Asterisk's pjsip.conf and sip.conf (docs/import.md).

Pure and in three steps, so the service layer only reads existing accounts and writes a plan:
:func:`parse` (a binary stream -> rows and per-line issues; format and encoding found from the
content; limits enforced while streaming), :func:`validate` (rows -> ``AccountSettings`` by the
domain's own rules, templates and the server given once applied), :func:`plan` (valid rows +
existing accounts -> new / changed / identical / taken / error, and the seats needed).
:func:`prepare` runs the three. Imports nothing but ``telesip.domain`` and the standard library.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import BinaryIO

from telesip.domain.settings import Secret
from telesip.importing.csvplain import write_rows
from telesip.importing.issues import MESSAGES, Issue
from telesip.importing.parse import CSV, FREEPBX, PJSIP, SIP_CONF, ParseResult, parse
from telesip.importing.plan import (
    Action,
    Counts,
    ExistingAccount,
    ImportPlan,
    PlannedRow,
    plan,
)
from telesip.importing.rows import COLUMNS, ParsedRow
from telesip.importing.source import Limits
from telesip.importing.validate import ImportRow, ServerDefaults, Validated, validate


def prepare(
    stream: BinaryIO,
    existing: Iterable[ExistingAccount],
    fingerprint: Callable[[Secret], str],
    *,
    server: str | None = None,
    filename: str | None = None,
    templates: Mapping[str, ServerDefaults] | None = None,
    limits: Limits = Limits(),
) -> ImportPlan:
    """parse -> validate -> plan, for the CLI, the API and the bot alike."""
    parsed = parse(stream, server_given=bool(server), filename=filename, limits=limits)
    valid = validate(parsed, server=server, templates=templates)
    return plan(valid, existing, fingerprint)


__all__ = [
    "COLUMNS",
    "CSV",
    "FREEPBX",
    "MESSAGES",
    "PJSIP",
    "SIP_CONF",
    "Action",
    "Counts",
    "ExistingAccount",
    "ImportPlan",
    "ImportRow",
    "Issue",
    "Limits",
    "ParseResult",
    "ParsedRow",
    "PlannedRow",
    "ServerDefaults",
    "Validated",
    "parse",
    "plan",
    "prepare",
    "validate",
    "write_rows",
]
