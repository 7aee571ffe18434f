"""A tiny registrar on loopback UDP for manager tests: challenges once, then says 200; a test
may change `nonce`, and credentials for another nonce then get a 401 with stale=true."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from telesip.sip import Request, parse_message

from .helpers import answer

CHALLENGE = 'Digest realm="fake", nonce="abc", qop="auth"'


@dataclass
class FakeRegistrar(asyncio.DatagramProtocol):
    requests: list[Request] = field(default_factory=list)
    silent: bool = False
    transport: asyncio.DatagramTransport | None = None
    port: int = 0
    keepalives: int = 0
    nonce: str = "abc"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not data.strip():
            self.keepalives += 1
            return
        msg = parse_message(data)
        assert isinstance(msg, Request)
        self.requests.append(msg)
        if self.silent:
            return
        credentials = msg.headers.get("Authorization")
        if credentials is not None and f'nonce="{self.nonce}"' in credentials:
            resp = answer(msg, 200, "OK", Contact=(msg.headers.get("Contact") or ""))
        else:
            stale = ", stale=true" if credentials is not None else ""
            challenge = CHALLENGE.replace('"abc"', f'"{self.nonce}"') + stale
            resp = answer(msg, 401, "Unauthorized", WWW_Authenticate=challenge)
        assert self.transport is not None
        self.transport.sendto(resp.to_bytes(), addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def start_fake() -> FakeRegistrar:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_datagram_endpoint(FakeRegistrar, local_addr=("127.0.0.1", 0))
    return proto
