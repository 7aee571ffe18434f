"""FreePBX's extensions export (Admin > Bulk Handler > Export > Extensions; also the older Bulk
Extensions module): one extension per record, about ninety columns of which these matter:

``extension`` (the login), ``secret`` (the SIP password; ``password`` there is the user's
portal password, not used), ``name`` (or ``description``: the display name), ``tech``
(``pjsip`` or ``sip``; anything else - ``iax2``, ``dahdi``, ``virtual``, ``custom`` - is refused
for that row), ``transport`` (``0.0.0.0-udp`` for PJSIP, ``udp,tcp,tls`` for chan_sip: the first
one). The ``port`` and ``host`` columns describe the phone, not the PBX: the server address is
given once with the file. PJSIP extensions get the ``freepbx`` template (port 5060), chan_sip
ones ``freepbx-chan-sip`` (5160) unless that address has its own port.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from telesip.domain.settings import Secret
from telesip.importing import csvtable
from telesip.importing.issues import Issue, issue
from telesip.importing.rows import ParsedRow

#: columns of the export telesip reads (normalised); the header must have the first three
#: and one of the device columns
REQUIRED = ("extension", "secret")
DEVICE_COLUMNS = ("tech", "dial", "sipdriver", "devicetype")
KNOWN = (*REQUIRED, *DEVICE_COLUMNS, "name", "description", "password", "transport", "callerid")

TEMPLATES = {"pjsip": "freepbx", "sip": "freepbx-chan-sip"}


def is_header(names: list[str]) -> bool:
    return all(n in names for n in REQUIRED) and any(n in names for n in DEVICE_COLUMNS)


def _tech(record: csvtable.Record) -> str:
    tech = (csvtable.cell(record, "tech") or "").lower()
    if tech:
        return tech
    driver = (csvtable.cell(record, "sipdriver") or "").lower()
    dial = (csvtable.cell(record, "dial") or "").lower()
    if driver == "chan_pjsip" or dial.startswith("pjsip/"):
        return "pjsip"
    if driver == "chan_sip" or dial.startswith("sip/"):
        return "sip"
    return "unknown"


def transport_of(value: str | None) -> str | None:
    """``0.0.0.0-udp`` (a PJSIP transport's name) or ``udp,tcp,tls`` -> ``udp``."""
    if not value:
        return None
    first = value.split(",")[0].strip()
    return first.rsplit("-", 1)[-1].lower() or None


def parse(
    lines: Iterable[tuple[int, str]],
    delimiter: str,
    header: list[str],
    header_line: int,
    *,
    max_rows: int,
    errors: list[Issue],
) -> Iterator[ParsedRow]:
    # the first column of a name wins (the export never repeats one; a hand-edited file may)
    names = [n if n not in header[:i] else "" for i, n in enumerate(header)]
    for record in csvtable.records(
        lines, delimiter, names, max_rows=max_rows, errors=errors, header_line=header_line
    ):
        login = csvtable.cell(record, "extension")
        tech = _tech(record)
        if tech not in TEMPLATES:
            errors.append(issue("import.unsupported_tech", record.line, login=login, tech=tech))
            continue
        secret = record.fields.get("secret") or ""
        yield ParsedRow(
            line=record.line,
            login=login,
            password=Secret(secret) if secret else None,
            transport=transport_of(csvtable.cell(record, "transport")),
            display_name=csvtable.cell(record, "name", "description"),
            template=TEMPLATES[tech],
        )
