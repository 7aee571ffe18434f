"""Account templates: the server settings a new account starts from (R1's "pick a template").
The built-in catalog ships as package data (``services/templates.py`` reads it); operators and
users add their own, stored as rows. ``FIELDS`` are the settings a template may carry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    kind: str  # pbx, hosted (built-in) or custom
    domain: str | None
    transport: str = "udp"
    port: int | None = None
    tls_port: int | None = None
    expires: int = 300
    dtmf_mode: str = "rfc4733"
    registrar: str | None = None
    outbound_proxy: str | None = None
    notes: str = ""
    builtin: bool = True
    operator: str | None = None
    user_id: int | None = None

    def settings_fields(self) -> dict[str, Any]:
        """The ``AccountSettings`` fields this template fills (``domain`` only when known)."""
        fields: dict[str, Any] = {
            "transport": self.transport,
            "port": self.port,
            "expires": self.expires,
            "dtmf_mode": self.dtmf_mode,
            "registrar": self.registrar,
            "outbound_proxy": self.outbound_proxy,
        }
        if self.domain:
            fields["domain"] = self.domain
        return fields


FIELDS = (
    "domain",
    "transport",
    "port",
    "tls_port",
    "expires",
    "dtmf_mode",
    "registrar",
    "outbound_proxy",
    "notes",
)
