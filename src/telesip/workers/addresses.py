"""The IP addresses a worker publishes for the firewall list (``domain.firewall``): the ones its
registrars saw (Via ``received`` of their 200s), else ``TELESIP_SIP_ADVERTISE`` (resolved when
it is a name), else the bound address, else the address of the interface that routes out.
Never a host name: no PBX firewall accepts one.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable

from telesip.domain.firewall import ip_of, publish

from .registrar import RegistrationManager

#: documentation addresses (RFC 5737, RFC 3849): connecting a UDP socket there sends nothing,
#: it only asks the routing table which local address would be used
_PROBES = {socket.AF_INET: "192.0.2.1", socket.AF_INET6: "2001:db8::1"}


def _route(family: socket.AddressFamily) -> str | None:
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((_PROBES[family], 5060))
        return str(s.getsockname()[0])
    return None


def fallback_ips(bind_host: str, advertise: str | None) -> list[str]:
    """Before any registrar has answered: what we advertise, or what we are bound to, or the
    routing interface's address (an IPv6 one too when bound to ``::``)."""
    if advertise:
        if ip_of(advertise) is not None:
            return [advertise]
        with contextlib.suppress(OSError):
            return sorted({str(a[4][0]) for a in socket.getaddrinfo(advertise, None)})
        return []
    if bind_host not in ("", "0.0.0.0", "::"):
        return [bind_host]
    families = [socket.AF_INET] + ([socket.AF_INET6] if bind_host == "::" else [])
    return [ip for ip in map(_route, families) if ip]


def publisher(
    manager: RegistrationManager, bind_host: str, advertise: str | None, udp_port: int, rtp: str
) -> Callable[[], list[str]]:
    """What the worker publishes now (asked at each heartbeat)."""
    fallback = fallback_ips(bind_host, advertise)

    def current() -> list[str]:
        seen = [ip for ip in manager.addresses_seen() if ip_of(ip) is not None]
        return publish(seen or fallback, udp_port=udp_port, rtp=rtp)

    return current
