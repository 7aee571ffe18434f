"""The RTP port pool: even ports with RTCP on +1, skipping refused ports, exhaustion, reuse."""

from __future__ import annotations

import socket

import pytest

from telesip.calls.rtp_ports import PortPool, parse_port_range
from telesip.media import PortsExhausted


def test_parse_port_range() -> None:
    assert list(parse_port_range("20000-20007")) == [20000, 20002, 20004, 20006]
    assert list(parse_port_range("20001-20006")) == [20002, 20004]  # 20006 has no 20007
    assert list(parse_port_range(range(30000, 30004))) == [30000, 30002]
    for bad in ("", "abc", "20000", "70000-70010", "500-600", "30000-20000"):
        with pytest.raises(ValueError):
            parse_port_range(bad)


def test_allocate_binds_an_even_pair() -> None:
    pool = PortPool("41000-41009")
    lease = pool.allocate("127.0.0.1")
    try:
        assert lease.rtp_port % 2 == 0 and lease.rtcp_port == lease.rtp_port + 1
        assert lease.rtp_socket.getsockname() == ("127.0.0.1", lease.rtp_port)
        assert lease.rtcp_socket.getsockname() == ("127.0.0.1", lease.rtcp_port)
        assert pool.in_use == 1
    finally:
        lease.release()
    assert pool.in_use == 0 and lease.rtp_socket.fileno() == -1


def test_exhaustion_and_reuse() -> None:
    pool = PortPool("41010-41013")  # two pairs
    a = pool.allocate("127.0.0.1")
    b = pool.allocate("127.0.0.1")
    assert {a.rtp_port, b.rtp_port} == {41010, 41012}
    with pytest.raises(PortsExhausted) as info:
        pool.allocate("127.0.0.1")
    assert "41010-41013" in info.value.message and info.value.code == "media_ports_exhausted"
    a.release()
    a.release()  # idempotent
    c = pool.allocate("127.0.0.1")
    assert c.rtp_port == a.rtp_port
    b.release()
    c.release()


def test_freed_ports_are_not_reused_first() -> None:
    pool = PortPool("41020-41029")
    a = pool.allocate("127.0.0.1")
    a.release()
    b = pool.allocate("127.0.0.1")
    assert b.rtp_port == a.rtp_port + 2
    b.release()


@pytest.mark.parametrize("taken", [0, 1])  # someone holds the RTP port, or the RTCP port
def test_ports_the_system_refuses_are_skipped(taken: int) -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.1", 41030 + taken))
    try:
        pool = PortPool("41030-41033")
        lease = pool.allocate("127.0.0.1")
        assert lease.rtp_port == 41032
        with pytest.raises(PortsExhausted) as info:
            pool.allocate("127.0.0.1")
        assert info.value.params["refused"] == 1
        lease.release()
    finally:
        blocker.close()
