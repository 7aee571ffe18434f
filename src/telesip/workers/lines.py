"""What a worker is told about each line (SIP account) it keeps registered: `AccountConfig`.

`to_config` maps the account core's `Account` to it; the registration manager and the calls
read nothing else of an account. The password is in clear here (the worker registers with it)
and kept out of every repr.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telesip.domain.model import Account
from telesip.sip.registration import RegistrationParams

__all__ = ["AccountConfig", "split_host_port", "to_config"]

_DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}


def split_host_port(value: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port`, optionally as a `sip:`/`sips:` URI with params."""
    v = value.strip()
    if ":" not in v and "[" not in v and ";" not in v and "@" not in v:
        return v, None  # a plain host name or IPv4 address, the usual case
    for scheme in ("sips:", "sip:"):
        if v.lower().startswith(scheme):
            v = v[len(scheme) :]
    v = v.split(";", 1)[0].split("@")[-1]
    if v.startswith("["):
        host, _, rest = v[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif v.count(":") == 1:
        host, _, port = v.partition(":")
    else:
        host, port = v, ""
    if port and not port.isdigit():
        raise ValueError("bad port")
    return host, int(port) if port else None


@dataclass(frozen=True, slots=True)
class AccountConfig:
    """One account as the manager needs it."""

    account_id: int
    login: str
    password: str = field(repr=False)
    domain: str
    auth_username: str | None = None
    registrar: str | None = None  # host[:port]; defaults to domain
    outbound_proxy: str | None = None  # host[:port]; requests go there, with a Route
    transport: str = "udp"  # "udp" | "tcp" | "tls"
    port: int | None = None  # registrar port; None: DNS SRV or the transport default
    expires: int = 3600
    display_name: str | None = None
    codecs: tuple[str, ...] = ("PCMA", "PCMU", "telephone-event")  # calls: offer/answer order
    dtmf_mode: str = "rfc4733"  # calls: rfc4733 | info | inband
    record: bool = False  # calls: mix both directions into a file for the owner
    media_encryption: str = "off"  # calls: off | optional | required (SRTP with SDES keys)

    def __post_init__(self) -> None:
        if self.transport.lower() not in _DEFAULT_PORTS:
            raise ValueError("transport must be udp, tcp or tls")
        if not self.login or not self.domain:
            raise ValueError("login and domain are required")

    def server(self) -> tuple[str, int | None]:
        """Host and port that requests are sent to (outbound proxy first)."""
        if self.outbound_proxy:
            return split_host_port(self.outbound_proxy)
        host, port = split_host_port(self.registrar or self.domain)
        return host, self.port if self.port is not None else port

    def binding_key(self) -> tuple[object, ...]:
        """Fields that identify the binding; a change in any of them means re-binding."""
        return (
            self.login,
            self.domain,
            self.registrar,
            self.outbound_proxy,
            self.transport.lower(),
            self.port,
        )

    def params(self, user_agent: str) -> RegistrationParams:
        t = self.transport.lower()
        host, port = split_host_port(self.registrar or self.domain)
        if self.port is not None:
            port = self.port
        hostpart = f"[{host}]" if ":" in host else host
        uri = f"sip:{hostpart}" + (f":{port}" if port else "")
        if t != "udp":
            uri += f";transport={t}"
        route = None
        if self.outbound_proxy:
            phost, pport = split_host_port(self.outbound_proxy)
            route = f"sip:{phost}" + (f":{pport}" if pport else "")
            if t != "udp":
                route += f";transport={t}"
        return RegistrationParams(
            user=self.login,
            domain=self.domain,
            password=self.password,
            registrar_uri=uri,
            transport=t.upper(),
            auth_username=self.auth_username,
            expires=self.expires,
            display_name=self.display_name,
            route=route,
            user_agent=user_agent,
        )


def to_config(account: Account) -> AccountConfig:
    """What a worker needs of an account (the password in clear: it registers with it)."""
    st = account.settings
    return AccountConfig(
        account_id=account.id,
        login=st.login,
        password=st.password.reveal(),
        domain=st.domain,
        auth_username=st.auth_username,
        registrar=st.registrar,
        outbound_proxy=st.outbound_proxy,
        transport=st.transport,
        port=st.port,
        expires=st.expires,
        display_name=st.display_name,
        codecs=tuple(st.codecs),
        dtmf_mode=st.dtmf_mode,
        record=st.record,
        media_encryption=st.encryption,
    )
