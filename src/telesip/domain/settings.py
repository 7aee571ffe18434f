"""SIP account settings: the value object, its validation and the one-line ``sip:`` shortcut.

The password is a :class:`Secret`: its repr and str never show it, so it cannot leak into logs,
audit records or exception texts by accident.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

from telesip.domain import rewrite
from telesip.domain.errors import InvalidSettings

TRANSPORTS = ("udp", "tcp", "tls")
DTMF_MODES = ("rfc4733", "info", "inband")
MEDIA_ENCRYPTION = ("off", "optional", "required")  # SRTP (SDES) of a line's calls
KNOWN_CODECS = ("PCMA", "PCMU", "G722", "opus", "telephone-event")
DEFAULT_CODECS = ("PCMA", "PCMU", "telephone-event")
EXPIRES_RANGE = (10, 86400)  # seconds a registration may ask for

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9\-_.!~*'()&=+$,;?/%#]+$")  # RFC 3261 user / token chars
WORKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Secret:
    """A string that never shows itself in repr/str; use :meth:`reveal` where it is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


#: the same rule as a pattern (for the API's schema): an IPv4 address or host-name labels of
#: letters, digits and inner hyphens, the last one starting with a letter ([IPv6] literals,
#: which the rule also takes, are left out: a pattern for them is long and easy to get wrong)
HOST_PATTERN = (
    r"^(?:(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)$"
)


def validate_host(host: str, *, what: str = "server") -> str:
    """Return the host in canonical form (lower case) or raise InvalidSettings."""
    host = host.strip()
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise InvalidSettings(reason=f"{what} {host!r} is not a valid IPv6 address") from None
        return host.lower()
    try:
        ipaddress.IPv4Address(host)
        return host
    except ValueError:
        pass
    if not host or len(host) > 253:
        raise InvalidSettings(reason=f"{what} must be a host name or an IP address")
    labels = host.rstrip(".").split(".")
    if not all(_HOST_LABEL.match(label) for label in labels) or not labels[-1][:1].isalpha():
        raise InvalidSettings(reason=f"{what} {host!r} is not a valid host name")
    return host.rstrip(".").lower()


MAX_REWRITE_RULES = rewrite.MAX_RULES
MAX_REWRITE_LENGTH = rewrite.MAX_LENGTH
_validate_rewrite = rewrite.validate


@dataclass(frozen=True)
class AccountSettings:
    """Everything needed to register a SIP account and place its calls."""

    login: str
    password: Secret = field(repr=False)
    domain: str
    auth_username: str | None = None
    registrar: str | None = None
    outbound_proxy: str | None = None
    transport: str = "udp"
    port: int | None = None
    expires: int = 300
    display_name: str | None = None
    codecs: tuple[str, ...] = DEFAULT_CODECS
    dtmf_mode: str = "rfc4733"
    rewrite_rules: tuple[tuple[str, str], ...] = ()
    worker: str | None = None
    record: bool = False  # calls on this line are recorded and sent to its owner
    # SRTP of the line's calls: off | optional | required; None means the transport's default
    media_encryption: str | None = None

    def validated(self) -> AccountSettings:
        """Check every field; return a normalised copy or raise InvalidSettings."""
        login = self.login.strip()
        if not login or len(login) > 128 or not _TOKEN_CHARS.match(login):
            raise InvalidSettings(reason="login must be 1-128 characters without spaces")
        password = self.password.reveal()
        if not password or len(password) > 128 or any(ord(c) < 32 for c in password):
            raise InvalidSettings(reason="password must be 1-128 printable characters")
        if self.auth_username is not None and (
            not self.auth_username.strip() or len(self.auth_username) > 128
        ):
            raise InvalidSettings(reason="auth username must be 1-128 characters")
        domain = validate_host(self.domain)
        registrar = validate_host(self.registrar, what="registrar") if self.registrar else None
        proxy = (
            validate_host(self.outbound_proxy, what="outbound proxy")
            if self.outbound_proxy
            else None
        )
        transport = self.transport.lower()
        if transport not in TRANSPORTS:
            raise InvalidSettings(reason="transport must be udp, tcp or tls")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise InvalidSettings(reason="port must be between 1 and 65535")
        low, high = EXPIRES_RANGE
        if not low <= self.expires <= high:
            raise InvalidSettings(reason=f"expires must be between {low} and {high} seconds")
        if self.display_name is not None and len(self.display_name) > 64:
            raise InvalidSettings(reason="display name is at most 64 characters")
        if not self.codecs or any(c not in KNOWN_CODECS for c in self.codecs):
            raise InvalidSettings(reason=f"codecs must be among {', '.join(KNOWN_CODECS)}")
        if self.dtmf_mode not in DTMF_MODES:
            raise InvalidSettings(reason="DTMF mode must be rfc4733, info or inband")
        _validate_rewrite(self.rewrite_rules)
        if self.worker is not None and not WORKER_NAME.match(self.worker):
            raise InvalidSettings(reason="worker name: letters, digits, '.', '_' or '-'")
        if not isinstance(self.record, bool):
            raise InvalidSettings(reason="record must be true or false")
        if self.media_encryption is not None and self.media_encryption not in MEDIA_ENCRYPTION:
            raise InvalidSettings(reason="media encryption must be off, optional or required")
        return replace(
            self,
            login=login,
            domain=domain,
            registrar=registrar,
            outbound_proxy=proxy,
            transport=transport,
            auth_username=self.auth_username.strip() if self.auth_username else None,
        )

    @property
    def encryption(self) -> str:
        """The media encryption in force: the setting, else ``optional`` over TLS (signalling
        that hides SDES keys) and ``off`` otherwise (keys in clear SDP protect nothing)."""
        if self.media_encryption is not None:
            return self.media_encryption
        return "optional" if self.transport.lower() == "tls" else "off"

    @property
    def identity(self) -> str:
        """Same login at the same server means the same account (R11 duplicate detection)."""
        port = self.port or (5061 if self.transport == "tls" else 5060)
        return f"{self.login.lower()}@{self.domain.lower()}:{port}"

    def public_dict(self) -> dict[str, Any]:
        """The settings without the password, for cards, the API and audit records."""
        return {
            "login": self.login,
            "domain": self.domain,
            "auth_username": self.auth_username,
            "registrar": self.registrar,
            "outbound_proxy": self.outbound_proxy,
            "transport": self.transport,
            "port": self.port,
            "expires": self.expires,
            "display_name": self.display_name,
            "codecs": list(self.codecs),
            "dtmf_mode": self.dtmf_mode,
            "rewrite_rules": [list(r) for r in self.rewrite_rules],
            "worker": self.worker,
            "record": self.record,
            "media_encryption": self.encryption,
        }


_SHORTCUT = re.compile(
    r"^sips?:(?P<login>[^:@\s]+):(?P<password>\S+)@(?P<host>\[[0-9A-Fa-f:.]+\]|[^:;@\s\[\]]+)"
    r"(?::(?P<port>\d{1,5}))?(?P<params>(?:;[A-Za-z]+=[A-Za-z0-9]+)*)$"
)


def parse_shortcut(text: str) -> AccountSettings:
    """Parse ``sip:LOGIN:PASSWORD@SERVER[:PORT][;transport=udp|tcp|tls]`` into settings.

    The password may itself contain ``@`` or ``:``; the server is what follows the last ``@``.
    """
    text = text.strip()
    match = _SHORTCUT.match(text)
    if not match:
        raise InvalidSettings(
            reason="expected sip:LOGIN:PASSWORD@SERVER[:PORT][;transport=udp|tcp|tls]"
        )
    transport = "tls" if text.startswith("sips:") else "udp"
    for param in filter(None, match["params"].split(";")):
        key, _, value = param.partition("=")
        if key.lower() != "transport":
            raise InvalidSettings(reason=f"unknown parameter {key!r}")
        transport = value.lower()
    return AccountSettings(
        login=match["login"],
        password=Secret(match["password"]),
        domain=match["host"],
        port=int(match["port"]) if match["port"] else None,
        transport=transport,
    ).validated()
