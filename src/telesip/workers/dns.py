"""Locating a SIP server (RFC 3263): NAPTR, then SRV, then A/AAAA; IP literals skip DNS.

`locate(host, port, transport)` returns the ordered list of Targets to try (the manager
fails over to the next one on a timeout or a transport error). Answers are cached for their
TTL (at least `min_ttl`), and one lookup serves every account asking for the same name at
once. DNS errors become `LookupFailed`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.resolver

from telesip.sip import SipError

from .transport import Target

__all__ = ["Locator", "LookupFailed"]

_NAPTR_SERVICE = {"UDP": "SIP+D2U", "TCP": "SIP+D2T", "TLS": "SIPS+D2T"}
_SRV_PREFIX = {"UDP": "_sip._udp.", "TCP": "_sip._tcp.", "TLS": "_sips._tcp."}
_DEFAULT_PORT = {"UDP": 5060, "TCP": 5060, "TLS": 5061}

# resolve(name, rdtype) -> (records, ttl); records are dnspython rdata objects.
Query = Callable[[str, str], Awaitable[tuple[list[Any], float]]]


class LookupFailed(SipError):
    """No address for the server (NXDOMAIN, no records, DNS timeout, no connection)."""

    code = "sip_lookup_failed"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _srv_order(records: Iterable[Any], rng: random.Random) -> list[Any]:
    """Priority ascending; inside a priority, weighted random order (RFC 2782)."""
    out: list[Any] = []
    by_prio: dict[int, list[Any]] = {}
    for r in records:
        by_prio.setdefault(int(r.priority), []).append(r)
    for prio in sorted(by_prio):
        group = by_prio[prio]
        while group:
            total = sum(int(r.weight) for r in group)
            pick = rng.uniform(0, total) if total else 0
            acc = 0.0
            for r in group:
                acc += int(r.weight)
                if acc >= pick:
                    break
            group.remove(r)
            out.append(r)
    return out


async def _dnspython_query(name: str, rdtype: str) -> tuple[list[Any], float]:
    try:
        answer = await dns.asyncresolver.resolve(name, rdtype, lifetime=5.0)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return [], 60.0
    except dns.exception.DNSException as exc:
        raise LookupFailed(f"DNS {rdtype} {name}: {type(exc).__name__}") from exc
    return list(answer), float(answer.rrset.ttl if answer.rrset is not None else 60)


class Locator:
    def __init__(
        self,
        query: Query | None = None,
        *,
        rng: random.Random | None = None,
        min_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._query = query or _dnspython_query
        self._rng = rng or random.Random()
        self._min_ttl = min_ttl
        self._clock = clock
        self._cache: dict[tuple[str, int | None, str], tuple[float, list[Target]]] = {}
        # IP literals: one shared (never mutated) list per server, not one per account
        self._literals: dict[tuple[str, int | None, str], list[Target]] = {}
        self._inflight: dict[tuple[str, int | None, str], asyncio.Future[list[Target]]] = {}

    def cached(self, host: str, port: int | None, transport: str) -> list[Target] | None:
        """Targets without waiting: IP literals, or a fresh cache entry."""
        transport = transport.upper()
        if (known := self._literals.get((host, port, transport))) is not None:
            return known
        if _is_ip(host):
            targets = [Target(host.strip("[]"), port or _DEFAULT_PORT[transport], transport)]
            if len(self._literals) < 4096:
                self._literals[(host, port, transport)] = targets
            return targets
        hit = self._cache.get((host.lower(), port, transport))
        if hit is not None and hit[0] > self._clock():
            return hit[1]
        return None

    async def locate(self, host: str, port: int | None, transport: str) -> list[Target]:
        transport = transport.upper()
        if (hit := self.cached(host, port, transport)) is not None:
            return hit
        key = (host.lower(), port, transport)
        if (fut := self._inflight.get(key)) is not None:
            return await asyncio.shield(fut)
        fut = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            targets, ttl = await self._lookup(host, port, transport)
            if not targets:
                raise LookupFailed(f"no address for {host}")
        except LookupFailed as exc:
            fut.set_exception(exc)
            fut.exception()
            raise
        finally:
            self._inflight.pop(key, None)
        self._cache[key] = (self._clock() + max(ttl, self._min_ttl), targets)
        fut.set_result(targets)
        return targets

    async def _lookup(self, host: str, port: int | None, t: str) -> tuple[list[Target], float]:
        if port is not None:
            return await self._addresses(host, port, t)
        ttl = 3600.0
        srv_name = _SRV_PREFIX[t] + host
        naptr, nttl = await self._query(host, "NAPTR")
        if naptr:
            wanted = [
                r
                for r in naptr
                if r.service.decode().upper() == _NAPTR_SERVICE[t] and r.flags.decode() in "sS"
            ]
            wanted.sort(key=lambda r: (int(r.order), int(r.preference)))
            if wanted:
                srv_name = str(wanted[0].replacement).rstrip(".")
                ttl = min(ttl, nttl)
        srv, sttl = await self._query(srv_name, "SRV")
        if not srv:
            return await self._addresses(host, _DEFAULT_PORT[t], t)
        ttl = min(ttl, sttl)
        out: list[Target] = []
        for rec in _srv_order(srv, self._rng):
            name = str(rec.target).rstrip(".")
            try:
                addrs, attl = await self._addresses(name, int(rec.port), t, server_name=host)
            except LookupFailed:
                continue
            ttl = min(ttl, attl)
            out.extend(addrs)
        return out, ttl

    async def _addresses(
        self, name: str, port: int, t: str, server_name: str | None = None
    ) -> tuple[list[Target], float]:
        if _is_ip(name):
            return [Target(name.strip("[]"), port, t)], 3600.0
        sni = server_name or name
        a, ttl = await self._query(name, "A")
        targets = [Target(str(r.address), port, t, sni) for r in a]
        if not targets:
            aaaa, ttl = await self._query(name, "AAAA")
            targets = [Target(str(r.address), port, t, sni) for r in aaaa]
        return targets, ttl
