"""RFC 3263 server location with a scripted resolver: NAPTR -> SRV -> A, literals, caching."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from telesip.workers.dns import Locator, LookupFailed
from telesip.workers.transport import Target


@dataclass
class Naptr:
    order: int
    preference: int
    flags: bytes
    service: bytes
    replacement: str


@dataclass
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass
class A:
    address: str


ZONE: dict[tuple[str, str], list[object]] = {
    ("example.com", "NAPTR"): [
        Naptr(10, 10, b"s", b"SIPS+D2T", "_sips._tcp.example.com."),
        Naptr(20, 10, b"s", b"SIP+D2T", "_sip._tcp.example.com."),
        Naptr(30, 10, b"s", b"SIP+D2U", "_sip._udp.example.com."),
    ],
    ("_sip._udp.example.com", "SRV"): [
        Srv(20, 0, 5070, "backup.example.com."),
        Srv(10, 0, 5060, "primary.example.com."),
    ],
    ("_sips._tcp.example.com", "SRV"): [Srv(10, 0, 5061, "primary.example.com.")],
    ("primary.example.com", "A"): [A("192.0.2.1"), A("192.0.2.2")],
    ("backup.example.com", "A"): [A("192.0.2.9")],
    ("plain.example.org", "A"): [A("198.51.100.7")],
}


class Zone:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    async def __call__(self, name: str, rdtype: str) -> tuple[list[object], float]:
        self.asked.append((name, rdtype))
        return ZONE.get((name, rdtype), []), 300.0


async def test_naptr_srv_a_in_priority_order() -> None:
    zone = Zone()
    loc = Locator(zone, rng=random.Random(1))
    targets = await loc.locate("example.com", None, "udp")
    assert targets == [
        Target("192.0.2.1", 5060, "UDP", "example.com"),
        Target("192.0.2.2", 5060, "UDP", "example.com"),
        Target("192.0.2.9", 5070, "UDP", "example.com"),
    ]
    asked = len(zone.asked)
    assert await loc.locate("example.com", None, "udp") == targets  # cached
    assert len(zone.asked) == asked


async def test_tls_uses_the_sips_service() -> None:
    loc = Locator(Zone())
    targets = await loc.locate("example.com", None, "tls")
    assert [t.port for t in targets] == [5061, 5061] and targets[0].transport == "TLS"


async def test_explicit_port_skips_naptr_and_srv() -> None:
    zone = Zone()
    targets = await Locator(zone).locate("plain.example.org", 5080, "tcp")
    assert targets == [Target("198.51.100.7", 5080, "TCP", "plain.example.org")]
    assert zone.asked == [("plain.example.org", "A")]


async def test_no_naptr_no_srv_falls_back_to_a_and_default_port() -> None:
    targets = await Locator(Zone()).locate("plain.example.org", None, "udp")
    assert targets == [Target("198.51.100.7", 5060, "UDP", "plain.example.org")]


async def test_ip_literals_skip_dns() -> None:
    zone = Zone()
    loc = Locator(zone)
    assert await loc.locate("127.0.0.1", None, "tls") == [Target("127.0.0.1", 5061, "TLS")]
    assert loc.cached("[::1]", 5062, "udp") == [Target("::1", 5062, "UDP")]
    assert zone.asked == []


async def test_unknown_name_fails() -> None:
    with pytest.raises(LookupFailed):
        await Locator(Zone()).locate("nowhere.invalid", None, "udp")
