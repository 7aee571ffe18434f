"""An uploaded file -> the accounts it states, by format found from its content.

The format is decided from the first meaningful line: a header row with ``extension``,
``secret`` and a device column (``tech`` ...) is FreePBX's export; one with a login and a
password column is telesip's CSV (see :mod:`~telesip.importing.csvplain`); a ``[section]``,
a ``;`` comment or ``key = value`` starts an Asterisk configuration, which is pjsip.conf when a
section has a PJSIP ``type`` (endpoint, auth, aor ...) and sip.conf when one has
``type=friend/peer/user``; the file name decides only when the content does not.

Invariants: :func:`parse` never raises for anything in the file: every problem is an
:class:`~telesip.importing.issues.Issue` in the result, and a fatal one leaves no rows; the file
is read once (twice when it turns out not to be UTF-8), chunk by chunk, and reading stops at
the first fatal problem, so a 100,000-row file costs what its first ``max_rows`` rows do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from telesip.importing import conf, csvplain, csvtable, freepbx, pjsip, sipconf
from telesip.importing.issues import Issue, Refused, issue
from telesip.importing.rows import ParsedRow
from telesip.importing.source import Limits, Redecode, TextSource

#: the formats, as ``ParseResult.format`` names them
CSV, FREEPBX, PJSIP, SIP_CONF = "csv", "freepbx", "pjsip.conf", "sip.conf"
PBX_FORMATS = frozenset({FREEPBX, PJSIP, SIP_CONF})


@dataclass(frozen=True)
class ParseResult:
    """What a file states: rows to validate, the rows' own problems, and notes."""

    format: str | None
    rows: tuple[ParsedRow, ...]
    issues: tuple[Issue, ...]  # errors; a fatal one (then alone, with no rows) refuses the file
    notes: tuple[Issue, ...] = ()
    encoding: str | None = None

    @property
    def refused(self) -> bool:
        return any(i.fatal for i in self.issues)


def parse(
    stream: BinaryIO,
    *,
    server_given: bool = False,
    filename: str | None = None,
    limits: Limits = Limits(),
) -> ParseResult:
    """Read ``stream`` (binary, positioned at the file's start). ``server_given``: a server
    address comes with the file, so a CSV need not have a server column."""
    try:
        source = TextSource(stream, limits)
    except Refused as refused:
        return ParseResult(None, (), (refused.issue,))
    for _attempt in range(2):
        errors: list[Issue] = []
        notes: list[Issue] = []
        kind: str | None = None
        try:
            kind, rows = _read(source.lines(), server_given, filename, limits, errors, notes)
            found = tuple(rows)
            if not found and not errors:
                raise Refused(issue("import.no_accounts", fatal=True))
            if len(found) > limits.max_rows:
                raise Refused(issue("import.too_many_rows", limit=limits.max_rows, fatal=True))
        except Redecode:
            continue
        except Refused as refused:
            return ParseResult(kind, (), (refused.issue,), tuple(source.notes), source.encoding)
        return ParseResult(kind, found, tuple(errors), (*source.notes, *notes), source.encoding)
    raise AssertionError("unreachable: a file is re-read at most once")  # pragma: no cover


def _read(
    lines: Iterator[tuple[int, str]],
    server_given: bool,
    filename: str | None,
    limits: Limits,
    errors: list[Issue],
    notes: list[Issue],
) -> tuple[str, Iterable[ParsedRow]]:
    first: tuple[int, str] | None = None
    for first in lines:
        if first[1].strip():
            break
    else:
        raise Refused(issue("import.empty", fatal=True))
    number, text = first
    if text.strip().lower().startswith("sep=") and len(text.strip()) == 5:  # Excel's hint
        delimiters: tuple[str, ...] = (text.strip()[4],)
        first = next(((n, t) for n, t in lines if t.strip()), None)
        if first is None:
            raise Refused(issue("import.no_accounts", fatal=True))
        number, text = first
    else:
        delimiters = csvtable.DELIMITERS
    found = _sniff(text, delimiters)
    if found is not None:
        delimiter, header = found
        if freepbx.is_header(header):
            if not server_given:
                raise Refused(issue("import.server_required", fatal=True))
            return FREEPBX, freepbx.parse(
                lines, delimiter, header, number, max_rows=limits.max_rows, errors=errors
            )
        if csvplain.is_header(header):
            return CSV, csvplain.parse(
                lines,
                delimiter,
                header,
                number,
                server_given=server_given,
                max_rows=limits.max_rows,
                errors=errors,
                notes=notes,
            )
    stripped = text.strip()
    if not (stripped.startswith(("[", ";", "#")) or "=" in stripped):
        raise Refused(issue("import.unknown_format", fatal=True))
    sections = conf.read_sections(
        itertools.chain([(number, text)], lines), max_sections=4 * limits.max_rows, errors=errors
    )
    types = {s.type for s in sections}
    name = (filename or "").lower()
    if types & pjsip.TYPES or (not types & sipconf.TYPES and "pjsip" in name):
        kind = PJSIP
    elif types & sipconf.TYPES or name.endswith("sip.conf"):
        kind = SIP_CONF
    else:
        raise Refused(issue("import.unknown_format", fatal=True))
    if not server_given:
        raise Refused(issue("import.server_required", fatal=True))
    module = pjsip if kind == PJSIP else sipconf
    return kind, list(module.accounts(sections, errors=errors, notes=notes))


def _sniff(text: str, delimiters: tuple[str, ...]) -> tuple[str, list[str]] | None:
    def known(name: str) -> bool:
        return name in csvplain.ALIASES or name in freepbx.KNOWN

    found = csvtable.sniff(text, known)
    if found is not None and found[0] in delimiters:
        return found
    if len(delimiters) == 1:  # Excel's sep= line named it: trust it
        names = [csvtable.normalise(n) for n in csvtable.split_line(text, delimiters[0])]
        return delimiters[0], names
    return None
