"""The firewall list a PBX administrator pastes: the addresses and ports telesip's workers use
toward a SIP server, as text for people and as ready rules (iptables, nftables, Asterisk).

A worker publishes its part as strings (the ``workers.addresses`` column; a remote worker sends
them over the control plane, so here they are untrusted input)::

    udp:IP:PORT          SIP over UDP, from this address and port
    tcp:IP   tls:IP      SIP over TCP / TLS: connections from this address (any source port)
    rtp:IP:FIRST-LAST    RTP and RTCP media, from these UDP ports

IP is an IPv4 address, or an IPv6 address in brackets. Only IP addresses are ever listed (no
PBX firewall accepts a host name): an entry that does not parse as one is left out, so nothing
a worker sends can put anything else into a rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
FORMATS = ("plain", "iptables", "nftables", "asterisk")
MAX_ENTRIES = 16  # what the control plane accepts from a remote worker


@dataclass(frozen=True)
class Host:
    """What one address of the workers sends from."""

    ip: IP
    udp_port: int | None = None
    tcp: bool = False
    tls: bool = False
    rtp: tuple[int, int] | None = None

    @property
    def v6(self) -> bool:
        return self.ip.version == 6


def ip_of(text: str) -> IP | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _host_part(ip: IP) -> str:
    return f"[{ip}]" if ip.version == 6 else str(ip)


def publish(ips: Iterable[str], *, udp_port: int, rtp: str) -> list[str]:
    """A worker's entries for these addresses (host names and junk dropped, IPv4 first, at most
    four addresses), its SIP UDP port and its RTP range ``FIRST-LAST``."""
    found = sorted({ip for ip in map(ip_of, ips) if ip is not None}, key=_order)
    out: list[str] = []
    for ip in found[: MAX_ENTRIES // 4]:
        h = _host_part(ip)
        out += [f"udp:{h}:{udp_port}", f"tcp:{h}", f"tls:{h}", f"rtp:{h}:{rtp}"]
    return out


def _order(ip: IP) -> tuple[int, int]:
    return (ip.version, int(ip))


def _split(entry: str) -> tuple[str, IP, str] | None:
    """``kind``, the address and what follows it (``""`` when nothing)."""
    kind, _, rest = entry.partition(":")
    if rest.startswith("["):
        addr, _, tail = rest[1:].partition("]")
        tail = tail[1:] if tail.startswith(":") else tail
        ip = ip_of(addr)
        if ip is None or ip.version != 6:
            return None
    else:
        addr, _, tail = rest.partition(":")
        ip = ip_of(addr)
        if ip is None or ip.version != 4:
            return None
    return kind.lower(), ip, tail


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < int(text) < 65536 else None


def hosts(entries: Iterable[str]) -> list[Host]:
    """The entries grouped by address (IPv4 first); what does not parse is left out."""
    found: dict[IP, Host] = {}
    for entry in entries:
        split = _split(entry)
        if split is None:
            continue
        kind, ip, tail = split
        h = found.get(ip, Host(ip))
        if kind == "udp" and (port := _port(tail)) is not None:
            h = Host(ip, port, h.tcp, h.tls, h.rtp)
        elif kind in ("tcp", "tls"):
            h = Host(ip, h.udp_port, h.tcp or kind == "tcp", h.tls or kind == "tls", h.rtp)
        elif kind == "rtp":
            first, _, last = tail.partition("-")
            lo, hi = _port(first), _port(last)
            if lo is None or hi is None or lo > hi:
                continue
            h = Host(ip, h.udp_port, h.tcp, h.tls, (lo, hi))
        else:
            continue
        found[ip] = h
    return [found[ip] for ip in sorted(found, key=_order)]


def describe(entries: Iterable[str]) -> list[str]:
    """One line per address for people: ``203.0.113.5: SIP udp 5060, tcp, tls; RTP udp
    20000-20999``."""
    lines = []
    for h in hosts(entries):
        sip = [f"udp {h.udp_port}"] if h.udp_port else []
        sip += [t for t, on in (("tcp", h.tcp), ("tls", h.tls)) if on]
        parts = [f"SIP {', '.join(sip)}"] if sip else []
        if h.rtp:
            parts.append(f"RTP udp {h.rtp[0]}-{h.rtp[1]}")
        lines.append(f"{h.ip}: {'; '.join(parts)}" if parts else str(h.ip))
    return lines


def render(entries: Iterable[str], fmt: str, *, sip_port: int | None = None) -> str:
    """Ready rules for the PBX side (allow what comes from the workers). ``sip_port``: the PBX's
    SIP port when one account's server is known (TCP/TLS rules then name it)."""
    found = hosts(entries)
    if fmt not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    if not found:
        return "# no worker address is known yet: start a worker (or wait for its first heartbeat)"
    return "\n".join(_RENDER[fmt](found, sip_port))


def _plain(found: list[Host], sip_port: int | None) -> list[str]:
    lines = ["# telesip workers: allow SIP and RTP from these addresses at the PBX"]
    for h in found:
        parts = [f"SIP udp from port {h.udp_port}"] if h.udp_port else []
        streams = [t for t, on in (("tcp", h.tcp), ("tls", h.tls)) if on]
        if streams:
            to = f" to port {sip_port}" if sip_port else ""
            parts.append(f"SIP {'/'.join(streams)} connections{to}")
        if h.rtp:
            parts.append(f"RTP udp from ports {h.rtp[0]}-{h.rtp[1]}")
        lines.append(f"{h.ip!s:<39} {'; '.join(parts)}")
    return lines


def _tcp_ports(sip_port: int | None) -> str:
    return f"--dport {sip_port}" if sip_port else "-m multiport --dports 5060,5061"


def _iptables(found: list[Host], sip_port: int | None) -> list[str]:
    lines = ["# telesip workers: run on the PBX host (or add to your saved rules)"]
    for h in found:
        cmd = "ip6tables" if h.v6 else "iptables"
        src = f"-A INPUT -s {h.ip}/{128 if h.v6 else 32}"
        if h.udp_port:
            lines.append(
                f'{cmd} {src} -p udp --sport {h.udp_port} -m comment --comment "telesip SIP"'
                " -j ACCEPT"
            )
        if h.tcp or h.tls:
            lines.append(
                f'{cmd} {src} -p tcp {_tcp_ports(sip_port)} -m comment --comment "telesip SIP"'
                " -j ACCEPT"
            )
        if h.rtp:
            lines.append(
                f"{cmd} {src} -p udp --sport {h.rtp[0]}:{h.rtp[1]}"
                ' -m comment --comment "telesip RTP" -j ACCEPT'
            )
    return lines


def _nftables(found: list[Host], sip_port: int | None) -> list[str]:
    lines = ["# telesip workers: nft -f this file (your inet filter table's input chain)"]
    tcp = f"tcp dport {sip_port}" if sip_port else "tcp dport { 5060, 5061 }"
    for h in found:
        src = f"add rule inet filter input {'ip6' if h.v6 else 'ip'} saddr {h.ip}"
        if h.udp_port:
            lines.append(f'{src} udp sport {h.udp_port} accept comment "telesip SIP"')
        if h.tcp or h.tls:
            lines.append(f'{src} {tcp} accept comment "telesip SIP"')
        if h.rtp:
            lines.append(f'{src} udp sport {h.rtp[0]}-{h.rtp[1]} accept comment "telesip RTP"')
    return lines


def _asterisk(found: list[Host], sip_port: int | None) -> list[str]:
    permits = [f"{h.ip}/{'128' if h.v6 else '255.255.255.255'}" for h in found]
    lines = [
        "; telesip workers. Asterisk PJSIP: in the endpoint of this account (pjsip.conf);",
        "; chan_sip: in its peer (sip.conf). Only these addresses may register and call.",
        "deny=0.0.0.0/0.0.0.0",
    ]
    if any(h.v6 for h in found):
        lines.append("deny=::/0")
    lines += [f"permit={p}" for p in permits]
    deny = "0.0.0.0/0.0.0.0" + ("&::/0" if any(h.v6 for h in found) else "")
    lines += [
        "; FreePBX: the extension's Advanced tab:",
        f";   Deny: {deny}",
        f";   Permit: {'&'.join(permits)}",
    ]
    return lines


_RENDER = {"plain": _plain, "iptables": _iptables, "nftables": _nftables, "asterisk": _asterisk}
