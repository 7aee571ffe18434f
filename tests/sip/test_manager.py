"""The manager on loopback against a fake registrar: hostile input, answers, sink, failover."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from telesip.domain import RegistrationReport
from telesip.sip import (
    Keepalive,
    RegistrationPolicy,
    Request,
    Response,
    StreamFramer,
    parse_message,
)
from telesip.sip.fields import parse_name_addr
from telesip.workers import AccountConfig, RegistrationManager
from telesip.workers.dns import Locator
from telesip.workers.transport import Target

from .fake_registrar import FakeRegistrar, start_fake
from .helpers import answer

INVALID = sorted((Path(__file__).parent / "data" / "torture" / "invalid").glob("*.sip"))


async def eventually(cond: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def account(port: int | None, account_id: int = 1, **kw: object) -> AccountConfig:
    fields: dict[str, object] = {
        "account_id": account_id, "login": f"u{account_id}", "password": "pw",
        "domain": "127.0.0.1", "port": port, "expires": 60,
    }  # fmt: skip
    fields.update(kw)
    return AccountConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeRegistrar]:
    f = await start_fake()
    yield f
    f.close()


@pytest.fixture
async def manager() -> AsyncIterator[RegistrationManager]:
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0)
    await m.start()
    yield m
    await m.stop(grace=1.0)


async def test_registers_against_the_fake(
    fake: FakeRegistrar, manager: RegistrationManager
) -> None:
    manager.apply(account(fake.port))
    await eventually(lambda: manager.status(1).state == "registered")
    assert [("Authorization" in r.headers) for r in fake.requests] == [False, True]


async def test_hostile_input_is_dropped_and_counted(
    fake: FakeRegistrar, manager: RegistrationManager
) -> None:
    local = manager.udp_local
    assert local is not None
    junk = [p.read_bytes() for p in INVALID] + [b"\x00" * 70000, b"SIP/2.0 200", bytes(range(256))]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for data in junk:
            if len(data) < 65000:
                s.sendto(data, local)
        # a well-formed response for no transaction of ours
        stray = (INVALID[0].parent.parent / "valid" / "noreason.sip").read_bytes()
        s.sendto(stray, local)
    sendable = sum(1 for d in junk if len(d) < 65000)
    await eventually(lambda: manager.stats.dropped == sendable and manager.stats.stray == 1)
    assert manager.stats.errors == 0
    manager.apply(account(fake.port))  # and it still works
    await eventually(lambda: manager.status(1).state == "registered")


async def test_options_gets_200_and_invite_gets_480(manager: RegistrationManager) -> None:
    local = manager.udp_local
    assert local is not None
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.setblocking(False)
        port = s.getsockname()[1]
        for method, status in (("OPTIONS", 200), ("INVITE", 480)):
            req = (
                f"{method} sip:u1@127.0.0.1 SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{method}\r\n"
                f"From: <sip:x@127.0.0.1>;tag=9\r\nTo: <sip:u1@127.0.0.1>\r\n"
                f"Call-ID: {method}-1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
                f"Content-Length: 0\r\n\r\n"
            ).encode()
            await loop.sock_sendto(s, req, local)
            async with asyncio.timeout(2):
                data = await loop.sock_recv(s, 65535)
            resp = parse_message(data)
            assert isinstance(resp, Response) and resp.status == status
            assert resp.headers.get("Call-ID") == f"{method}-1"
            assert ";tag=" in (resp.headers.get("To") or "")


async def test_a_raising_sink_does_not_stop_anything(fake: FakeRegistrar) -> None:
    calls: list[RegistrationReport] = []

    def sink(st: RegistrationReport) -> None:
        calls.append(st)
        raise RuntimeError("storage is down")

    m = RegistrationManager(status_sink=sink, bind_host="127.0.0.1", keepalive_interval=0)
    await m.start()
    try:
        m.apply(account(fake.port))
        m.apply(account(fake.port, 2))
        await eventually(lambda: m.status(2).state == "registered" and len(calls) == 4)
        assert m.stats.sink_errors == 4
        assert [c.state for c in calls if c.account_id == 1] == ["registering", "registered"]
    finally:
        await m.stop(grace=1.0)


async def test_remove_unregisters_and_reports_disabled(fake: FakeRegistrar) -> None:
    seen: list[RegistrationReport] = []

    def sink(st: RegistrationReport) -> None:
        seen.append(st)

    m = RegistrationManager(status_sink=sink, bind_host="127.0.0.1", keepalive_interval=0)
    await m.start()
    try:
        m.apply(account(fake.port))
        await eventually(lambda: m.status(1).state == "registered")
        m.remove(1)
        await eventually(lambda: bool(seen) and seen[-1].state == "disabled")
        last = fake.requests[-1]
        assert last.headers.get("Expires") == "0"
        assert (last.headers.get("Contact") or "").endswith(";expires=0")
    finally:
        await m.stop(grace=1.0)


async def test_at_most_max_pending_initial_registrations(fake: FakeRegistrar) -> None:
    fake.silent = True
    policy = RegistrationPolicy(t1=5.0)  # no retransmission during the test
    m = RegistrationManager(
        bind_host="127.0.0.1", keepalive_interval=0, max_pending=3, policy=policy
    )
    await m.start()
    try:
        for i in range(10):
            m.apply(account(fake.port, i + 1))
        await eventually(lambda: len(fake.requests) == 3)
        await asyncio.sleep(0.2)
        assert len(fake.requests) == 3
        fake.silent = False
        m.remove(1)
        m.remove(2)
        await eventually(lambda: m.status(10).state == "registered")
    finally:
        await m.stop(grace=1.0)


async def test_fails_over_to_the_next_target(fake: FakeRegistrar) -> None:
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))
    dead = hole.getsockname()[1]

    async def query(name: str, rdtype: str) -> tuple[list[object], float]:
        raise AssertionError("no DNS expected")

    locator = Locator(query)
    # the name resolves to a dead target first, then the fake registrar
    key = ("sip.example.test", None, "UDP")
    targets = [Target("127.0.0.1", dead, "UDP"), Target("127.0.0.1", fake.port, "UDP")]
    locator._cache[key] = (time.monotonic() + 600, targets)
    policy = RegistrationPolicy(t1=0.02, t2=0.1, retry_base=0.1, retry_max=0.2)
    m = RegistrationManager(
        bind_host="127.0.0.1", keepalive_interval=0, policy=policy, locator=locator
    )
    await m.start()
    try:
        m.apply(account(None, domain="sip.example.test"))
        await eventually(lambda: m.status(1).state == "registered", within=6)
    finally:
        await m.stop(grace=0.5)
        hole.close()


@pytest.mark.parametrize("share", [True, False])
async def test_challenge_is_shared_within_a_protection_space(
    fake: FakeRegistrar, share: bool
) -> None:
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0, share_challenges=share)
    await m.start()
    try:
        m.apply(account(fake.port, 1))
        await eventually(lambda: m.status(1).state == "registered")
        m.apply(account(fake.port, 2))
        await eventually(lambda: m.status(2).state == "registered")
        second = [r for r in fake.requests if "u2@" in (r.headers.get("From") or "")]
        if share:  # one round trip: credentials for the nonce account 1 was given
            assert len(second) == 1 and 'nonce="abc"' in (
                second[0].headers.get("Authorization") or ""
            )
            assert 'username="u2"' in (second[0].headers.get("Authorization") or "")
        else:
            assert [("Authorization" in r.headers) for r in second] == [False, True]
    finally:
        await m.stop(grace=1.0)


@pytest.mark.parametrize("share", [True, False])
async def test_a_renewed_nonce_is_adopted_by_the_other_accounts_refreshes(
    fake: FakeRegistrar, share: bool
) -> None:
    """The registrar's nonce expires: the first account to refresh gets a 401 (stale) and the
    new nonce; the others' refreshes go out with that nonce, one round trip each."""
    policy = RegistrationPolicy(refresh_ratio=0.01, first_refresh_spread=0.0)
    m = RegistrationManager(
        bind_host="127.0.0.1", keepalive_interval=0, share_challenges=share, policy=policy
    )
    await m.start()
    try:
        m.apply(account(fake.port, 1, expires=100))  # refreshes after 1 s
        m.apply(account(fake.port, 2, expires=300))  # refreshes after 3 s
        m.apply(account(fake.port, 3, expires=300))
        await eventually(lambda: all(m.status(i).state == "registered" for i in (1, 2, 3)))
        first = {i: m.registered_until(i) for i in (1, 2, 3)}
        fake.nonce = "renewed"
        seen = len(fake.requests)
        await eventually(lambda: m.registered_until(1) != first[1])
        await eventually(lambda: all(m.registered_until(i) != first[i] for i in (2, 3)), within=8.0)
        after = fake.requests[seen:]

        def sent_by(i: int) -> list[str]:
            return [
                r.headers.get("Authorization") or ""
                for r in after
                if f"u{i}@" in (r.headers.get("From") or "")
            ]

        # account 1 (it refreshes every second): stale, then the renewed nonce
        assert 'nonce="abc"' in sent_by(1)[0] and 'nonce="renewed"' in sent_by(1)[1]
        for i in (2, 3):
            if share:  # straight to the renewed nonce: no 401 of their own
                assert 'nonce="renewed"' in sent_by(i)[0]
                assert "nc=00000001" in sent_by(i)[0]  # a nonce count of its own, from 1
            else:
                assert 'nonce="abc"' in sent_by(i)[0] and 'nonce="renewed"' in sent_by(i)[1]
        assert all(m.status(i).state == "registered" for i in (1, 2, 3))
    finally:
        await m.stop(grace=1.0)


async def test_unregisters_are_paced_by_max_pending(fake: FakeRegistrar) -> None:
    policy = RegistrationPolicy(t1=5.0)
    m = RegistrationManager(
        bind_host="127.0.0.1", keepalive_interval=0, max_pending=3, policy=policy
    )
    await m.start()
    for i in range(10):
        m.apply(account(fake.port, i + 1))
    await eventually(lambda: all(m.status(i + 1).state == "registered" for i in range(10)))
    fake.silent = True
    before = len(fake.requests)
    await m.stop(grace=0.3)
    unregisters = [r for r in fake.requests[before:] if r.headers.get("Expires") == "0"]
    assert len(unregisters) == 3


async def test_udp_keepalive_goes_to_each_registered_server(fake: FakeRegistrar) -> None:
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0.1)
    await m.start()
    try:
        m.apply(account(fake.port, 1))
        m.apply(account(fake.port, 2))  # same server: one keepalive per interval, not two
        await eventually(lambda: m.status(2).state == "registered")
        start, t0 = fake.keepalives, time.monotonic()
        await eventually(lambda: fake.keepalives >= start + 3)
        assert fake.keepalives - start <= (time.monotonic() - t0) / 0.1 + 1
    finally:
        await m.stop(grace=1.0)


async def test_a_bug_in_one_registration_is_contained(
    fake: FakeRegistrar, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the bug is put in the UDP socket's shell, on the registration's first send: the SIP core,
    # the manager and the wire may be compiled (telesip.native), and a compiled class's methods
    # cannot be patched
    from telesip.workers.transport import UdpTransport

    original = UdpTransport.send
    calls = {"n": 0}

    def flaky(self: UdpTransport, data: bytes, addr: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("bug")
        original(self, data, addr)

    monkeypatch.setattr(UdpTransport, "send", flaky)
    policy = RegistrationPolicy(retry_base=0.1, retry_max=0.2)
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0, policy=policy)
    await m.start()
    try:
        caplog.set_level("DEBUG")
        m.apply(account(fake.port, 1, password="Zq9-very-secret"))
        await eventually(lambda: m.status(1).state == "failed")
        assert m.stats.errors == 1 and m.status(1).error == "internal error (logged)"
        await eventually(lambda: m.status(1).state == "registered")
        assert "RuntimeError: bug" in caplog.text  # the traceback is logged...
        assert "Zq9-very-secret" not in caplog.text  # ...without the password
        assert "Zq9-very-secret" not in repr(m._accounts)
    finally:
        await m.stop(grace=1.0)


async def test_a_tcp_server_sending_garbage_is_dropped_and_counted() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65535)  # the REGISTER
        writer.write(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n")  # no Content-Length: unframeable
        await writer.drain()
        await reader.read()  # until we are hung up on
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0)
    await m.start()
    try:
        m.apply(account(port, transport="tcp"))
        await eventually(lambda: m.status(1).state == "unreachable")
        assert m.stats.dropped == 1 and m.stats.errors == 0
        assert m.status(1).error == "transport error"
    finally:
        await m.stop(grace=0.5)
        server.close()
        await server.wait_closed()


async def test_a_new_tcp_flow_moves_the_binding() -> None:
    """The registrar drops the connection: we re-REGISTER on a new one, with the new Contact,
    and remove the old Contact in the same request."""
    seen: list[Request] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = StreamFramer()
        while data := await reader.read(65535):
            for frame in framer.feed(data):
                if isinstance(frame, Keepalive):
                    continue
                msg = parse_message(frame, is_stream=True)
                assert isinstance(msg, Request)
                seen.append(msg)
                writer.write(answer(msg, 200, "OK", Expires="600").to_bytes())
                await writer.drain()
                if len(seen) == 1:
                    writer.close()  # drop the flow after the first registration
                    return

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0)
    await m.start()
    try:
        m.apply(account(port, transport="tcp", expires=600))
        await eventually(lambda: len(seen) >= 2, within=6)
        first = parse_name_addr(seen[0].headers.get("Contact") or "").uri
        contacts = [parse_name_addr(c) for c in seen[1].headers.get_all("Contact")]
        assert contacts[0].uri != first and contacts[0].uri.endswith(";transport=tcp")
        assert (contacts[1].uri, contacts[1].params) == (first, {"expires": "0"})
        await eventually(lambda: m.status(1).state == "registered")
    finally:
        await m.stop(grace=0.5)
        server.close()
        await server.wait_closed()


async def test_re_enable_waits_for_the_old_unregister(fake: FakeRegistrar) -> None:
    """Disable then enable at once: the new REGISTER must not overtake the un-REGISTER of the
    same Contact, or the registrar would drop the new binding."""
    policy = RegistrationPolicy(t1=0.02, t2=0.1)  # the unanswered un-REGISTER ends in 1.28 s
    m = RegistrationManager(bind_host="127.0.0.1", keepalive_interval=0, policy=policy)
    await m.start()
    try:
        m.apply(account(fake.port))
        await eventually(lambda: m.status(1).state == "registered")
        fake.silent = True
        before = len(fake.requests)
        m.remove(1)
        m.apply(account(fake.port))
        await eventually(lambda: len(fake.requests) > before)
        await asyncio.sleep(0.5)  # the un-REGISTER is being retransmitted meanwhile
        tail = fake.requests[before:]
        assert tail and all(r.headers.get("Expires") == "0" for r in tail)
        fake.silent = False
        await eventually(lambda: m.status(1).state == "registered", within=5)
        first_new = next(
            i
            for i, r in enumerate(fake.requests)
            if i >= before and r.headers.get("Expires") != "0"
        )
        assert all(r.headers.get("Expires") == "0" for r in fake.requests[before:first_new])
    finally:
        await m.stop(grace=0.5)


async def test_a_refresh_moves_registered_until_without_telling_the_sink(
    fake: FakeRegistrar,
) -> None:
    told: list[RegistrationReport] = []

    def sink(st: RegistrationReport) -> None:
        told.append(st)

    m = RegistrationManager(
        bind_host="127.0.0.1",
        keepalive_interval=0,
        status_sink=sink,
        policy=RegistrationPolicy(refresh_ratio=0.01),  # refresh after 1 s
    )
    await m.start()
    try:
        m.apply(account(fake.port))
        await eventually(lambda: m.status(1).state == "registered")
        first = m.registered_until(1)
        sent = len(fake.requests)
        await eventually(lambda: m.registered_until(1) != first, within=5)
        assert len(fake.requests) == sent + 1  # the refresh went out and was answered
        assert m.status(1).state == "registered"
        assert [st.state for st in told] == ["registering", "registered"]
    finally:
        await m.stop(grace=1.0)


async def test_refreshes_wait_for_room_in_flight(fake: FakeRegistrar) -> None:
    """Refreshes and retries, like first registrations, start only while fewer than
    max_pending requests are in flight: a slow registrar gets a queue, not a storm."""
    m = RegistrationManager(
        bind_host="127.0.0.1",
        keepalive_interval=0,
        max_pending=1,
        policy=RegistrationPolicy(refresh_ratio=0.01),  # refresh after 1 s
    )
    in_flight: list[int] = []
    await m.start()
    udp = m._wire._udp  # the socket's shell (the wire itself may be compiled: not patchable)
    assert udp is not None
    send = udp.send

    def counting_send(data: bytes, addr: tuple[str, int]) -> None:
        in_flight.append(m._busy)
        send(data, addr)

    udp.send = counting_send  # type: ignore[method-assign]
    try:
        for i in (1, 2, 3):
            m.apply(account(fake.port, i))
        await eventually(lambda: all(m.status(i).state == "registered" for i in (1, 2, 3)))
        first = {i: m.registered_until(i) for i in (1, 2, 3)}
        await eventually(lambda: all(m.registered_until(i) != first[i] for i in (1, 2, 3)))
        assert max(in_flight) == 1 and len(in_flight) >= 7  # 3 challenged + 3 + refreshes
        assert m._busy <= 1
    finally:
        await m.stop(grace=1.0)
    assert m._busy == 0


def test_each_core_state_translates_to_one_a_worker_reports() -> None:
    """The manager's one translation table covers the SIP core's vocabulary and lands on
    exactly the states the domain says a worker reports (and the control plane accepts)."""
    from telesip.domain import WORKER_STATES
    from telesip.sip import BindingState
    from telesip.workers.registrar import _REPORTED

    assert set(_REPORTED) == set(BindingState)
    assert sorted(_REPORTED.values()) == sorted(WORKER_STATES)
    assert all(state.value == core.value for core, state in _REPORTED.items())


async def test_a_binding_past_its_expiry_is_not_shown_registered(fake: FakeRegistrar) -> None:
    """Issue 18 item 4: with max_pending below the refreshes due at once and a registrar that
    stops answering, neither the held-back refreshes nor the one in flight may keep showing
    "registered" once their binding has run out: the status says what the registrar knows.
    When it answers again every account comes back, one request in flight at a time."""
    m = RegistrationManager(
        bind_host="127.0.0.1",
        keepalive_interval=0,
        max_pending=1,
        policy=RegistrationPolicy(t1=0.05, t2=0.2, retry_base=0.2, retry_max=0.5),
    )
    ids = (1, 2, 3, 4)
    await m.start()
    try:
        for i in ids:
            m.apply(account(fake.port, i, expires=2))  # refresh at 1.6 s, expiry at 2 s
        await eventually(lambda: all(m.status(i).state == "registered" for i in ids))
        fake.silent = True
        wrong: list[tuple[int, float]] = []

        def check() -> bool:
            now = datetime.now(UTC)
            for i in ids:
                until = m.registered_until(i)
                # the manager runs first on the loop when its expiry timer is due: the slack
                # is its wake-up granularity, not a wait for a race
                if m.status(i).state == "registered" and until is not None:
                    late = (now - until).total_seconds()
                    if late > 0.05:
                        wrong.append((i, late))
            return all(m.status(i).state == "unreachable" for i in ids)

        await eventually(check, within=10)
        assert not wrong, f"shown registered after the binding ran out: {wrong}"
        assert all(m.status(i).error for i in ids)
        fake.silent = False
        await eventually(lambda: all(m.status(i).state == "registered" for i in ids), within=10)
        assert m._busy <= 1
    finally:
        await m.stop(grace=1.0)
