"""The registration manager's wire: one UDP socket, shared TCP/TLS connections, keepalives,
and stateless answers to requests (OPTIONS 200, INVITE 480). Parses what arrives and drops
(and counts in the manager's stats) anything malformed.

A response is first read as a client reads it (`read_response`: only the lines a client uses)
and offered to `on_response`, which takes the answers to registrations; any other response
(a call's, or a stray) is then parsed whole and goes to `on_other_response`."""

from __future__ import annotations

import logging
import random
import socket
import ssl
from collections.abc import Callable, Iterable
from typing import Protocol

from telesip.sip import ParseError, Request, Response, parse_message, read_response
from telesip.sip.uas import respond

from .stats import ManagerStats
from .transport import Addr, StreamConnection, StreamPool, Target, UdpTransport

__all__ = ["CallHandler", "RequestHandler", "Wire"]

#: (request, source address, transport, reply) -> True when handled
RequestHandler = Callable[[Request, Addr, str, Callable[[bytes], None]], bool]


class CallHandler(Protocol):
    """What the registration manager hands to calls (calls/manager.py)."""

    def on_request(
        self, msg: Request, src: Addr, transport: str, reply: Callable[[bytes], None]
    ) -> bool: ...

    def on_response(self, msg: Response) -> bool: ...


log = logging.getLogger(__name__)


class Wire:
    def __init__(
        self,
        *,
        on_response: Callable[[Response], bool],
        on_other_response: Callable[[Response], None],
        on_lost: Callable[[Target], None],
        stats: ManagerStats,
        rng: random.Random,
        user_agent: str,
        tls_context: ssl.SSLContext | None,
        bind: Addr,
        advertise_host: str | None,
    ) -> None:
        self._on_response = on_response
        self._on_other_response = on_other_response
        self._stats = stats
        self._rng = rng
        self._ua = user_agent
        self._bind = bind
        self._advertise = advertise_host
        self._udp: UdpTransport | None = None
        self._streams = StreamPool(self._on_data, on_lost, tls_context)
        self._streams.on_malformed = self._count_dropped
        self._local_ip: dict[str, str] = {}
        # calls (calls/manager.py) take the requests that belong to them; the rest get the
        # stateless answers below
        self.on_request: RequestHandler | None = None

    async def open(self) -> None:
        self._udp = udp = await UdpTransport.open(self._on_data, *self._bind)
        udp.on_response = self._on_udp_response

    def close(self) -> None:
        self._streams.close()
        if self._udp is not None:
            self._udp.close()

    @property
    def udp_local(self) -> Addr | None:
        return self._udp.local if self._udp is not None else None

    def local_for(self, target: Target) -> Addr:
        """Our address as a UDP target sees it (before any NAT): for Via and Contact."""
        assert self._udp is not None, "open() first"
        host, port = self._udp.local
        if self._advertise:
            return (self._advertise, port)
        if host not in ("0.0.0.0", "::"):
            return (host, port)
        ip = self._local_ip.get(target.host)
        if ip is None:  # the source address the kernel would route from (no packet is sent)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((target.host, target.port))
                ip = str(s.getsockname()[0])
            self._local_ip[target.host] = ip
        return (ip, port)

    def send(self, target: Target, data: bytes) -> bool:
        """Send now; False when a stream target has no connection (use `connect` first)."""
        self._stats.sent += 1
        if target.transport == "UDP":
            if self._udp is not None:
                self._udp.send(data, target.addr)
            return True
        conn = self._streams.get(target)
        if conn is None:
            self._stats.sent -= 1
            return False
        conn.send(data)
        return True

    async def connect(self, target: Target) -> StreamConnection:
        return await self._streams.connect(target)

    def keepalive(self, udp_targets: Iterable[Target]) -> None:
        """CRLF ping on every stream connection, CRLF to each UDP server we are bound at."""
        self._streams.keepalive()
        if self._udp is not None:
            for target in udp_targets:
                self._udp.send(b"\r\n\r\n", target.addr)

    def _count_dropped(self) -> None:
        self._stats.dropped += 1

    def _on_data(
        self, data: bytes, src: Addr, transport: str, reply: Callable[[bytes], None], stream: bool
    ) -> None:
        self._stats.received += 1
        if data.startswith(b"SIP/2.0 ") and self._answer(data, stream):
            return
        self._whole(data, src, transport, reply, stream)

    def _on_udp_response(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """A UDP datagram that starts as a response (UdpTransport.on_response)."""
        self._stats.received += 1
        if self._answer(data, False):
            return
        src = (str(addr[0]), int(addr[1]))
        udp = self._udp
        assert udp is not None
        self._whole(data, src, "UDP", lambda out: udp.send(out, src), False)

    def _answer(self, data: bytes, stream: bool) -> bool:
        """Read a response as a client does and offer it to the registrations: True when it
        was theirs (or malformed, dropped and counted)."""
        try:
            return self._on_response(read_response(data, is_stream=stream))
        except ParseError:
            self._stats.dropped += 1
            return True
        except Exception:  # as below: a bug in the reader is logged, not raised
            self._stats.dropped += 1
            log.exception("response reader failure on %d bytes", len(data))
            return True

    def _whole(
        self, data: bytes, src: Addr, transport: str, reply: Callable[[bytes], None], stream: bool
    ) -> None:
        """Any other message, parsed whole: a call's, a stray response, a request."""
        try:
            msg = parse_message(data, is_stream=stream)
        except ParseError:
            self._stats.dropped += 1
            return
        except Exception:  # the parser must not fail otherwise; if it does, drop and tell
            self._stats.dropped += 1
            log.exception("parser failure on %d bytes from %s", len(data), src)
            return
        if isinstance(msg, Response):
            self._on_other_response(msg)
            return
        if self.on_request is not None:
            try:
                if self.on_request(msg, src, transport, reply):
                    return  # a call took it
            except Exception:
                log.exception("call handler failed on a %s", msg.method)
        try:
            resp = respond(msg, tag=f"{self._rng.getrandbits(48):012x}", user_agent=self._ua)
        except Exception:
            self._stats.dropped += 1
            log.exception("cannot answer a %s", msg.method)
            return
        if resp is not None:
            reply(resp.to_bytes())
            self._stats.sent += 1
