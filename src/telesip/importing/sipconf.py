"""Extensions from Asterisk's legacy ``sip.conf`` (chan_sip): a ``type=friend`` or
``type=peer`` section with ``host=dynamic`` registers, and becomes one account.

The login is the section's name; the password ``secret`` (``md5secret`` alone is a hash:
refused for that row); the auth user ``defaultuser`` (or the older ``username``) when it
differs from the name; the display name from ``callerid`` (or ``fullname``); the transport is
the first of ``transport`` (the peer's, else ``[general]``'s); the port is ``[general]``'s
``bindport`` / ``udpbindaddr`` (``tlsbindaddr`` for TLS). A peer with a fixed ``host`` is a
trunk and ``type=user`` does not register: both are skipped with a note.
"""

from __future__ import annotations

from collections.abc import Iterator

from telesip.domain.settings import Secret
from telesip.importing.conf import Section, callerid_name, port_of
from telesip.importing.issues import Issue, issue
from telesip.importing.rows import ParsedRow

TYPES = frozenset({"friend", "peer", "user"})
TEMPLATE = "asterisk"


def _first(value: str | None) -> str | None:
    first = (value or "").split(",")[0].strip().lower()
    return first or None


def accounts(
    sections: list[Section], *, errors: list[Issue], notes: list[Issue]
) -> Iterator[ParsedRow]:
    general = next((s.values for s in sections if s.name.lower() == "general"), {})
    default_transport = _first(general.get("transport"))
    for peer in sections:
        if peer.template or peer.broken or peer.type not in TYPES:
            continue
        values = peer.values
        if peer.type == "user":
            notes.append(
                issue("import.note.not_registering", peer.line, section=peer.name, kind="user")
            )
            continue
        host = values.get("host", "dynamic").lower()
        if host != "dynamic":
            notes.append(issue("import.note.trunk_skipped", peer.line, section=peer.name))
            continue
        secret = values.get("secret") or ""
        if not secret and values.get("md5secret"):
            errors.append(
                issue("import.hashed_password", peer.line, login=peer.name, key="md5secret")
            )
            continue
        transport = _first(values.get("transport")) or default_transport
        if transport == "tls":
            port = port_of(general.get("tlsbindaddr"))
        else:
            port = port_of(general.get("udpbindaddr")) or general.get("bindport")
        user = values.get("defaultuser") or values.get("username") or None
        yield ParsedRow(
            line=peer.line,
            login=peer.name,
            password=Secret(secret) if secret else None,
            auth_user=user if user and user != peer.name else None,
            display_name=callerid_name(values.get("callerid")) or values.get("fullname") or None,
            transport=transport,
            port=port,
            template=TEMPLATE,
        )
