"""Extensions from Asterisk's ``pjsip.conf``: an ``endpoint`` with an inbound ``auth`` and an
``aor`` is a phone that registers, and becomes one account.

The login is the AOR's name (what the phone registers as); the password is the auth section's
``password`` (``auth_type=md5`` keeps only a hash: refused for that row); the auth user is the
auth's ``username`` when it differs from the login; the display name comes from ``callerid``;
the transport and the port from the endpoint's ``transport`` section (``protocol``, ``bind``),
or from the only transport when the endpoint names none. The server address is given once with
the file. Trunks (``outbound_auth`` without ``auth``, or an AOR with a static ``contact``) are
skipped with a note.
"""

from __future__ import annotations

from collections.abc import Iterator

from telesip.domain.settings import Secret
from telesip.importing.conf import Section, callerid_name, port_of
from telesip.importing.issues import Issue, issue
from telesip.importing.rows import ParsedRow

TYPES = frozenset(
    {"endpoint", "auth", "aor", "transport", "registration", "identify", "global", "system",
     "domain_alias", "contact", "acl", "phoneprov", "outbound-publish", "resource_list",
     "inbound-publication", "asterisk-publication"}
)  # fmt: skip
TEMPLATE = "asterisk"


def _by_type(sections: list[Section], kind: str) -> dict[str, Section]:
    return {s.name: s for s in sections if s.type == kind and not s.template}


def _first(value: str | None) -> str | None:
    first = (value or "").split(",")[0].strip()
    return first or None


def accounts(
    sections: list[Section], *, errors: list[Issue], notes: list[Issue]
) -> Iterator[ParsedRow]:
    auths = _by_type(sections, "auth")
    aors = _by_type(sections, "aor")
    transports = _by_type(sections, "transport")
    identified = {s.values.get("endpoint") for s in sections if s.type == "identify"}
    for endpoint in (s for s in sections if s.type == "endpoint" and not s.template):
        if endpoint.broken:
            continue
        values = endpoint.values
        auth_name = _first(values.get("auth"))
        aor = aors.get(_first(values.get("aors")) or "")
        if auth_name is None and ("outbound_auth" in values or endpoint.name in identified):
            notes.append(issue("import.note.trunk_skipped", endpoint.line, section=endpoint.name))
            continue
        if aor is not None and aor.values.get("contact"):
            notes.append(issue("import.note.trunk_skipped", endpoint.line, section=endpoint.name))
            continue
        auth = auths.get(auth_name or "")
        if auth is None:
            errors.append(issue("import.no_auth", endpoint.line, login=endpoint.name))
            continue
        if aor is None:
            errors.append(issue("import.no_aor", endpoint.line, login=endpoint.name))
            continue
        if auth.values.get("auth_type", "userpass").lower() == "md5" or (
            "md5_cred" in auth.values and not auth.values.get("password")
        ):
            errors.append(
                issue("import.hashed_password", auth.line, login=aor.name, key="md5_cred")
            )
            continue
        login = aor.name
        username = auth.values.get("username") or None
        password = auth.values.get("password") or ""
        transport_name = values.get("transport")
        transport = (
            transports.get(transport_name)
            if transport_name
            else next(iter(transports.values()))
            if len(transports) == 1
            else None
        )
        protocol = transport.values.get("protocol", "udp").lower() if transport else None
        yield ParsedRow(
            line=endpoint.line,
            login=login,
            password=Secret(password) if password else None,
            auth_user=username if username and username != login else None,
            display_name=callerid_name(values.get("callerid")),
            transport=protocol,
            port=port_of(transport.values.get("bind")) if transport else None,
            template=TEMPLATE,
        )
