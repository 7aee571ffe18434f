"""RTP port pairs from a configured range: an even RTP port and RTCP on the next one.

`PortPool("20000-20999").allocate(host)` binds both UDP sockets and hands them over in a
`PortLease`, so no other process can take the ports between the check and the use; ports the
system refuses (already bound by someone else) are skipped. The search starts after the last
port handed out, so a freed pair is not reused at once (stray packets of the old call would land
in the new one). `release(lease)` or `lease.release()` gives the pair back.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from telesip.media.errors import PortsExhausted

__all__ = ["PortLease", "PortPool", "parse_port_range"]


def parse_port_range(spec: str | range) -> range:
    """`"20000-20999"` (inclusive) or a range -> the range of even RTP ports in it."""
    if isinstance(spec, range):
        low, high = spec.start, spec.stop - 1
    else:
        try:
            a, _, b = spec.partition("-")
            low, high = int(a), int(b or a)
        except ValueError:
            raise ValueError(f"bad port range {spec!r}: expected LOW-HIGH") from None
    if not 1024 <= low < high <= 65535:
        raise ValueError(f"bad port range {low}-{high}: needs 1024 <= LOW < HIGH <= 65535")
    first = low + (low & 1)
    ports = range(first, high, 2)  # port + 1 must be <= high too
    if not ports:
        raise ValueError(f"port range {low}-{high} holds no even/odd pair")
    return ports


@dataclass(eq=False)
class PortLease:
    """An RTP/RTCP socket pair, bound; the stream takes the sockets, the pool keeps the port."""

    pool: PortPool
    host: str
    rtp_port: int
    rtp_socket: socket.socket
    rtcp_socket: socket.socket
    released: bool = field(default=False)

    @property
    def rtcp_port(self) -> int:
        return self.rtp_port + 1

    def release(self) -> None:
        self.pool.release(self)


class PortPool:
    def __init__(self, ports: str | range = "20000-20999") -> None:
        self.ports = parse_port_range(ports)
        self.label = ports if isinstance(ports, str) else f"{ports.start}-{ports.stop - 1}"
        self._in_use: set[int] = set()
        self._cursor = 0

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    @property
    def capacity(self) -> int:
        return len(self.ports)

    def allocate(self, host: str = "0.0.0.0") -> PortLease:
        """Bind a free pair on `host`; raises PortsExhausted when none is left."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        refused = 0
        n = len(self.ports)
        for i in range(n):
            index = (self._cursor + i) % n
            port = self.ports[index]
            if port in self._in_use:
                continue
            rtp = _bind(family, host, port)
            if rtp is None:
                refused += 1
                continue
            rtcp = _bind(family, host, port + 1)
            if rtcp is None:
                rtp.close()
                refused += 1
                continue
            self._cursor = (index + 1) % n
            self._in_use.add(port)
            return PortLease(self, host, port, rtp, rtcp)
        raise PortsExhausted(range=self.label, in_use=len(self._in_use), refused=refused)

    def release(self, lease: PortLease) -> None:
        """Close the lease's sockets (if the stream has not) and free its port pair. Idempotent."""
        if lease.released:
            return
        lease.released = True
        lease.rtp_socket.close()
        lease.rtcp_socket.close()
        self._in_use.discard(lease.rtp_port)


def _bind(family: socket.AddressFamily, host: str, port: int) -> socket.socket | None:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        return None
    sock.setblocking(False)
    return sock
