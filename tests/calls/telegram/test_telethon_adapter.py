"""The Telethon adapter against constructed TL objects on a fake client: no network."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from telethon import errors as tg_errors
from telethon.tl import functions, types

from telesip.calls.telegram.adapter import (
    CallAccepted,
    CallDiscarded,
    CallProtocol,
    CallReady,
    CallRef,
    CallRequested,
    CallServer,
    CallSignaling,
    CallWaiting,
    DiscardReason,
    TgUser,
)
from telesip.calls.telegram.errors import (
    CalleeUnavailable,
    CallerUnavailable,
    CallGone,
    CallPrivacyRestricted,
    SessionRevoked,
    TelegramError,
)
from telesip.calls.telegram.telethon_adapter import TelethonCalls

ME = types.User(
    id=777,
    first_name="Telesip",
    last_name="Calls",
    username="telesip_calls",
    phone="15550001111",
    access_hash=42,
)
ALICE = 1001
DATE = datetime(2025, 1, 1, tzinfo=UTC)
TL_PROTOCOL = types.PhoneCallProtocol(
    min_layer=65,
    max_layer=92,
    library_versions=["9.0.0", "12.0.0"],
    udp_p2p=True,
    udp_reflector=True,
)
PROTOCOL = CallProtocol(65, 92, ("9.0.0", "12.0.0"), udp_p2p=True, udp_reflector=True)
REF = CallRef(id=5_000_000_123, access_hash=-987654321)
P = bytes(range(256))


class FakeTelethonClient:
    """Just enough of TelegramClient: requests are answered by ``handlers`` per request type."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.handlers: dict[type, Callable[[Any], Any]] = {}
        self.event_handlers: list[tuple[Callable[[Any], Any], Any]] = []
        self.known: dict[int, Any] = {ALICE: types.InputPeerUser(ALICE, 555)}

    async def __call__(self, request: Any) -> Any:
        self.requests.append(request)
        result = self.handlers[type(request)](request)
        if isinstance(result, Exception):
            raise result
        return result

    async def get_me(self) -> Any:
        return ME

    async def get_input_entity(self, peer: Any) -> Any:
        if peer not in self.known:
            raise ValueError(f"Could not find the input entity for {peer}")
        return self.known[peer]

    def add_event_handler(self, callback: Callable[[Any], Any], event: Any = None) -> None:
        self.event_handlers.append((callback, event))

    def remove_event_handler(self, callback: Callable[[Any], Any], event: Any = None) -> int:
        before = len(self.event_handlers)
        self.event_handlers = [h for h in self.event_handlers if h[0] != callback]
        return before - len(self.event_handlers)

    async def emit(self, update: Any) -> None:
        """Deliver a raw update as Telethon does: to handlers whose event builder wants it."""
        for callback, event in self.event_handlers:
            if event.types is None or isinstance(update, event.types):
                await callback(update)


@pytest.fixture
async def client() -> FakeTelethonClient:
    return FakeTelethonClient()


@pytest.fixture
async def calls(client: FakeTelethonClient) -> TelethonCalls:
    return await TelethonCalls.start(client)


def tl_call(kind: type, **extra: Any) -> Any:
    common = {
        "id": REF.id,
        "access_hash": REF.access_hash,
        "date": DATE,
        "admin_id": ME.id,
        "participant_id": ALICE,
        "protocol": TL_PROTOCOL,
    }
    return kind(**common, **extra)


async def next_update(calls: TelethonCalls, client: FakeTelethonClient, raw: Any) -> Any:
    sub = calls.updates()
    await client.emit(raw)
    async with asyncio.timeout(1):
        update = await sub.get()
    sub.close()
    return update


async def test_me_is_read_from_get_me(calls: TelethonCalls) -> None:
    assert calls.me == TgUser(777, "Telesip", "Calls", "telesip_calls", "15550001111")
    assert calls.me.name == "Telesip Calls"


async def test_requested_call_update(calls: TelethonCalls, client: FakeTelethonClient) -> None:
    g_a_hash = hashlib.sha256(b"g_a").digest()
    raw = types.UpdatePhoneCall(tl_call(types.PhoneCallRequested, g_a_hash=g_a_hash))
    update = await next_update(calls, client, raw)
    assert update == CallRequested(REF, ME.id, ALICE, g_a_hash, PROTOCOL)


@pytest.mark.parametrize("receive_date", [None, DATE])
async def test_waiting_call_update(
    calls: TelethonCalls, client: FakeTelethonClient, receive_date: datetime | None
) -> None:
    raw = types.UpdatePhoneCall(tl_call(types.PhoneCallWaiting, receive_date=receive_date))
    update = await next_update(calls, client, raw)
    assert update == CallWaiting(REF, received=receive_date is not None)


async def test_accepted_call_update(calls: TelethonCalls, client: FakeTelethonClient) -> None:
    raw = types.UpdatePhoneCall(tl_call(types.PhoneCallAccepted, g_b=b"\x02" * 256))
    update = await next_update(calls, client, raw)
    assert update == CallAccepted(REF, b"\x02" * 256, PROTOCOL)


def confirmed_tl(p2p_allowed: bool = True) -> Any:
    return tl_call(
        types.PhoneCall,
        g_a_or_b=b"\x03" * 256,
        key_fingerprint=-1234567890123456789,
        connections=[
            types.PhoneConnection(
                id=1,
                ip="149.154.1.1",
                ipv6="2001:b28::1",
                port=532,
                peer_tag=b"\x09" * 16,
                tcp=True,
            ),
            types.PhoneConnectionWebrtc(
                id=2,
                ip="149.154.1.2",
                ipv6="",
                port=3478,
                username="u",
                password="pw",
                turn=True,
                stun=True,
            ),
        ],
        start_date=DATE,
        p2p_allowed=p2p_allowed,
    )


EXPECTED_SERVERS = (
    CallServer(1, "149.154.1.1", "2001:b28::1", 532, tcp=True, peer_tag=b"\x09" * 16),
    CallServer(2, "149.154.1.2", "", 3478, username="u", password="pw", turn=True, stun=True),
)


@pytest.mark.parametrize("p2p", [True, False])
async def test_confirmed_call_update(
    calls: TelethonCalls, client: FakeTelethonClient, p2p: bool
) -> None:
    update = await next_update(calls, client, types.UpdatePhoneCall(confirmed_tl(p2p)))
    assert update == CallReady(
        REF, b"\x03" * 256, -1234567890123456789, EXPECTED_SERVERS, p2p, PROTOCOL
    )


@pytest.mark.parametrize(
    ("tl_reason", "reason"),
    [
        (types.PhoneCallDiscardReasonMissed(), "missed"),
        (types.PhoneCallDiscardReasonBusy(), "busy"),
        (types.PhoneCallDiscardReasonHangup(), "hangup"),
        (types.PhoneCallDiscardReasonDisconnect(), "disconnect"),
        (None, None),
    ],
)
async def test_discarded_call_update_each_reason(
    calls: TelethonCalls, client: FakeTelethonClient, tl_reason: Any, reason: str | None
) -> None:
    raw = types.UpdatePhoneCall(types.PhoneCallDiscarded(id=REF.id, reason=tl_reason, duration=7))
    assert await next_update(calls, client, raw) == CallDiscarded(REF.id, reason, 7)  # type: ignore[arg-type]


async def test_signaling_update(calls: TelethonCalls, client: FakeTelethonClient) -> None:
    raw = types.UpdatePhoneCallSignalingData(phone_call_id=REF.id, data=b"\x00blob\xff")
    assert await next_update(calls, client, raw) == CallSignaling(REF.id, b"\x00blob\xff")


async def test_empty_call_and_other_updates_are_ignored(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    sub = calls.updates()
    await client.emit(types.UpdatePhoneCall(types.PhoneCallEmpty(id=1)))
    await client.emit(types.UpdatePhoneCallSignalingData(phone_call_id=2, data=b"x"))
    async with asyncio.timeout(1):
        assert await sub.get() == CallSignaling(2, b"x")  # the empty call produced nothing


async def test_every_subscription_gets_every_update_until_closed(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    first, second = calls.updates(), calls.updates()
    await client.emit(types.UpdatePhoneCallSignalingData(phone_call_id=1, data=b"a"))
    second.close()
    await client.emit(types.UpdatePhoneCallSignalingData(phone_call_id=2, data=b"b"))
    async with asyncio.timeout(1):
        assert [(await first.get()).call_id, (await first.get()).call_id] == [1, 2]  # type: ignore[union-attr]
        assert (await second.get()).call_id == 1  # type: ignore[union-attr]
        with pytest.raises(StopAsyncIteration):
            await second.get()


async def test_close_removes_the_event_handler(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    sub = calls.updates()
    calls.close()
    assert client.event_handlers == []
    assert [u async for u in sub] == []


# -- requests


async def test_request_call_sends_the_tl_request(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    client.handlers[functions.phone.RequestCallRequest] = lambda r: types.phone.PhoneCall(
        phone_call=tl_call(types.PhoneCallWaiting), users=[]
    )
    ref = await calls.request_call(ALICE, b"h" * 32, PROTOCOL)
    assert ref == REF
    (req,) = client.requests
    assert req.user_id == types.InputUser(ALICE, 555)
    assert req.g_a_hash == b"h" * 32
    assert req.protocol == TL_PROTOCOL
    assert not req.video


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (tg_errors.UserPrivacyRestrictedError(request=None), CallPrivacyRestricted),
        (tg_errors.UserIsBlockedError(request=None), CallPrivacyRestricted),
        (tg_errors.ParticipantVersionOutdatedError(request=None), CalleeUnavailable),
        (tg_errors.UserIdInvalidError(request=None), CalleeUnavailable),
        (tg_errors.FloodWaitError(request=None, capture=30), CallerUnavailable),
        (tg_errors.AuthKeyUnregisteredError(request=None), SessionRevoked),
        (ConnectionError("Connection to Telegram failed 5 time(s)"), CallerUnavailable),
        (tg_errors.CallAlreadyDeclinedError(request=None), CallGone),
        (tg_errors.RPCError(request=None, message="SOMETHING_NEW", code=400), TelegramError),
    ],
)
async def test_request_call_errors_are_translated(
    calls: TelethonCalls, client: FakeTelethonClient, error: Exception, expected: type
) -> None:
    client.handlers[functions.phone.RequestCallRequest] = lambda r: error
    with pytest.raises(expected) as caught:
        await calls.request_call(ALICE, b"h" * 32, PROTOCOL)
    assert type(caught.value) is expected
    assert caught.value.__cause__ is error


async def test_privacy_error_says_how_to_allow_calls(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    client.handlers[functions.phone.RequestCallRequest] = lambda r: (
        tg_errors.UserPrivacyRestrictedError(request=r)
    )
    with pytest.raises(CallPrivacyRestricted) as caught:
        await calls.request_call(ALICE, b"h" * 32, PROTOCOL)
    assert caught.value.code == "call_privacy_restricted"
    assert "1001" in caught.value.message and "Privacy and Security" in caught.value.message


async def test_request_to_an_unknown_person(calls: TelethonCalls) -> None:
    with pytest.raises(CalleeUnavailable, match="does not know them"):
        await calls.request_call(4242, b"h" * 32, PROTOCOL)


async def test_accept_confirm_signal_received(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    ok = types.phone.PhoneCall(phone_call=confirmed_tl(), users=[])
    client.handlers[functions.phone.AcceptCallRequest] = lambda r: ok
    client.handlers[functions.phone.ConfirmCallRequest] = lambda r: ok
    client.handlers[functions.phone.SendSignalingDataRequest] = lambda r: True
    client.handlers[functions.phone.ReceivedCallRequest] = lambda r: True
    await calls.received_call(REF)
    await calls.accept_call(REF, b"b" * 256, PROTOCOL)
    ready = await calls.confirm_call(REF, b"a" * 256, -5, PROTOCOL)
    await calls.send_signaling(REF, b"blob")
    assert ready.connections == EXPECTED_SERVERS and ready.p2p_allowed
    received, accept, confirm, signal = client.requests
    peer = types.InputPhoneCall(REF.id, REF.access_hash)
    assert received == functions.phone.ReceivedCallRequest(peer)
    assert accept == functions.phone.AcceptCallRequest(peer, b"b" * 256, TL_PROTOCOL)
    assert confirm == functions.phone.ConfirmCallRequest(peer, b"a" * 256, -5, TL_PROTOCOL)
    assert signal == functions.phone.SendSignalingDataRequest(peer, b"blob")


async def test_confirm_of_a_call_discarded_meanwhile(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    client.handlers[functions.phone.ConfirmCallRequest] = lambda r: types.phone.PhoneCall(
        phone_call=types.PhoneCallDiscarded(id=REF.id, reason=types.PhoneCallDiscardReasonHangup()),
        users=[],
    )
    with pytest.raises(CallGone):
        await calls.confirm_call(REF, b"a" * 256, 1, PROTOCOL)


@pytest.mark.parametrize(
    ("reason", "tl_type"),
    [
        ("missed", types.PhoneCallDiscardReasonMissed),
        ("busy", types.PhoneCallDiscardReasonBusy),
        ("hangup", types.PhoneCallDiscardReasonHangup),
        ("disconnect", types.PhoneCallDiscardReasonDisconnect),
    ],
)
async def test_discard_with_each_reason(
    calls: TelethonCalls, client: FakeTelethonClient, reason: DiscardReason, tl_type: type
) -> None:
    client.handlers[functions.phone.DiscardCallRequest] = lambda r: types.Updates(
        [], [], [], DATE, 1
    )
    await calls.discard_call(REF, reason, 12)
    (req,) = client.requests
    assert isinstance(req.reason, tl_type)
    assert (req.peer, req.duration, req.connection_id) == (
        types.InputPhoneCall(REF.id, REF.access_hash),
        12,
        0,
    )


async def test_discarding_an_ended_call_is_not_an_error(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    client.handlers[functions.phone.DiscardCallRequest] = lambda r: (
        tg_errors.CallAlreadyDeclinedError(request=r)
    )
    await calls.discard_call(REF, "hangup", 0)


# -- DH config: g and p cached by version, the random part fresh every time


async def test_dh_config_is_cached_by_version(
    calls: TelethonCalls, client: FakeTelethonClient
) -> None:
    answers = iter(
        [
            types.messages.DhConfig(g=3, p=P, version=7, random=b"\x01" * 256),
            types.messages.DhConfigNotModified(random=b"\x02" * 256),
            types.messages.DhConfig(g=2, p=P[::-1], version=8, random=b"\x03" * 256),
        ]
    )
    client.handlers[functions.messages.GetDhConfigRequest] = lambda r: next(answers)
    first = await calls.get_dh_config()
    second = await calls.get_dh_config()
    third = await calls.get_dh_config()
    assert [r.version for r in client.requests] == [0, 7, 7]
    assert all(r.random_length == 256 for r in client.requests)
    assert (first.g, first.p, first.random, first.version) == (3, P, b"\x01" * 256, 7)
    assert (second.g, second.p, second.random, second.version) == (3, P, b"\x02" * 256, 7)
    assert (third.g, third.p, third.random, third.version) == (2, P[::-1], b"\x03" * 256, 8)
    assert "random" not in repr(first) and str(P[:4]) not in repr(first)


@pytest.mark.parametrize(
    "answer",
    [
        types.messages.DhConfigNotModified(random=b"\x02" * 256),  # nothing cached yet
        types.messages.DhConfig(g=3, p=P[:128], version=1, random=b"\x01" * 256),  # short p
        types.messages.DhConfig(g=3, p=P, version=1, random=b"\x01" * 16),  # short random
    ],
)
async def test_dh_config_of_a_wrong_shape_is_refused(
    calls: TelethonCalls, client: FakeTelethonClient, answer: Any
) -> None:
    client.handlers[functions.messages.GetDhConfigRequest] = lambda r: answer
    with pytest.raises(TelegramError):
        await calls.get_dh_config()


async def test_start_with_a_logged_out_session(client: FakeTelethonClient) -> None:
    async def no_one() -> None:
        return None

    client.get_me = no_one  # type: ignore[method-assign,assignment]
    with pytest.raises(CallerUnavailable):
        await TelethonCalls.start(client)
