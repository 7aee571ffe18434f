"""asyncio transports for SIP: one UDP socket, and one TCP/TLS connection per remote target.

Thin shells: bytes in are handed to `on_data(data, source, transport, reply)` (the manager
parses them), bytes out are written as they are. Stream connections are shared by every
account that uses the same target; they are framed with `StreamFramer`, answer CRLF pings,
and report failures through `on_lost(target)`. OS errors stay here: callers see `OSError`
only as "transport error" events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from telesip.sip import Keepalive, ParseError, StreamFramer

__all__ = ["Addr", "StreamConnection", "StreamPool", "Target", "UdpTransport"]

log = logging.getLogger(__name__)

Addr = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Target:
    """Where one account's requests go: an IP literal, a port, a transport."""

    host: str
    port: int
    transport: str  # "UDP" | "TCP" | "TLS"
    server_name: str | None = None  # for TLS SNI and certificate checks
    # (host, port), made once: every datagram sent to the target is sent to it
    addr: Addr = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "addr", (self.host, self.port))


# on_data(data, source, transport, reply, is_stream): reply(bytes) answers on the same path.
OnData = Callable[[bytes, Addr, str, Callable[[bytes], None], bool], None]


class UdpTransport(asyncio.DatagramProtocol):
    """The one UDP socket shared by every account."""

    def __init__(self, on_data: OnData) -> None:
        self._on_data = on_data
        # when set, every response goes here instead (with the source as the socket gave it):
        # the registrations' answers need no source address or reply path
        self.on_response: Callable[[bytes, tuple[str | int, ...]], None] | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.local: Addr = ("0.0.0.0", 0)

    @classmethod
    async def open(cls, on_data: OnData, host: str, port: int) -> UdpTransport:
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(
            lambda: cls(on_data), local_addr=(host, port)
        )
        return proto

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        raw = transport.get_extra_info("socket")
        if raw is not None:  # bursts of thousands of answers must not overflow the queue
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                with contextlib.suppress(OSError):
                    raw.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
        sock = transport.get_extra_info("sockname")
        self.local = (sock[0], sock[1])

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if data[:1] in b"\r\n" and not data.strip(b"\r\n"):
            return  # CRLF keepalive from a peer
        if self.on_response is not None and data.startswith(b"SIP/2.0 "):
            self.on_response(data, addr)
            return
        src = (str(addr[0]), int(addr[1]))
        self._on_data(data, src, "UDP", lambda out: self.send(out, src), False)

    def error_received(self, exc: Exception) -> None:
        log.debug("udp error: %s", exc)

    def send(self, data: bytes, addr: Addr) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection to one target."""

    def __init__(self, pool: StreamPool, target: Target) -> None:
        self.pool = pool
        self.target = target
        self.transport: asyncio.Transport | None = None
        self.framer = StreamFramer()
        self.local: Addr = ("0.0.0.0", 0)
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("sockname")
        self.local = (sock[0], sock[1])

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except ParseError:
            self.pool.on_malformed()
            self.abort()
            return
        for frame in frames:
            if isinstance(frame, Keepalive):
                if frame.ping:
                    self.send(b"\r\n")
                continue
            self.pool.on_data(frame, self.target.addr, self.target.transport, self.send, True)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.lost(self)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class StreamPool:
    """Shared TCP/TLS connections keyed by target; connects on first use."""

    def __init__(
        self,
        on_data: OnData,
        on_lost: Callable[[Target], None],
        tls_context: ssl.SSLContext | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self.on_data = on_data
        self._on_lost = on_lost
        self._tls = tls_context
        self._timeout = connect_timeout
        self._conns: dict[Target, StreamConnection] = {}
        self._pending: dict[Target, asyncio.Future[StreamConnection]] = {}
        self.on_malformed: Callable[[], None] = lambda: None  # a stream we could not frame

    def get(self, target: Target) -> StreamConnection | None:
        conn = self._conns.get(target)
        return conn if conn is not None and not conn.closed else None

    async def connect(self, target: Target) -> StreamConnection:
        """The open connection to `target`, made once however many callers ask at once."""
        if (conn := self.get(target)) is not None:
            return conn
        if (fut := self._pending.get(target)) is not None:
            return await asyncio.shield(fut)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._pending[target] = fut
        try:
            ctx = None
            if target.transport == "TLS":
                ctx = self._tls or ssl.create_default_context()
            name = (target.server_name or target.host) if ctx is not None else None
            async with asyncio.timeout(self._timeout):
                _, conn = await loop.create_connection(
                    lambda: StreamConnection(self, target),
                    target.host,
                    target.port,
                    ssl=ctx,
                    server_hostname=name,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: other waiters get it through shield
            raise
        finally:
            self._pending.pop(target, None)
        self._conns[target] = conn
        fut.set_result(conn)
        return conn

    def lost(self, conn: StreamConnection) -> None:
        if self._conns.get(conn.target) is conn:
            del self._conns[conn.target]
            self._on_lost(conn.target)

    def keepalive(self) -> None:
        for conn in list(self._conns.values()):
            conn.send(b"\r\n\r\n")

    def close(self) -> None:
        for conn in list(self._conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        self._conns.clear()
