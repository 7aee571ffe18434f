"""A test double: an in-process stand-in for Telegram's call servers, and the people it
connects. Used by the tests and bench/bench_calls.py, never by telesip itself.

``FakeTelegram`` keeps the calls' server-side state and delivers updates the way Telegram does:
the caller's ``g_a_hash`` and the callee's ``g_b`` are passed on, ``confirmCall`` is checked
against the hash, signaling blobs go to the other side, ``discardCall`` reaches both, an
unanswered call is discarded as ``missed`` after ``server_ring_timeout``. Each account is a
``FakeCalls`` endpoint implementing ``TelegramCalls``: a caller account for a ``TelegramLeg``,
or the endpoint a ``FakeTelegramUser`` answers on with its own ntgcalls instance.

    async with FakeTelegram() as tg:
        caller = tg.account(TgUser(100, "Telesip"))
        alice = tg.user(1001, Behaviour.answer(after=0.05), tone_hz=440)
        leg = TelegramLeg(caller)
        await leg.start(alice.id)

ntgcalls needs a network namespace in tests (see docs/testing.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

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
    DhConfig,
    DiscardReason,
    Subscription,
    TgUser,
    UpdateHub,
)
from telesip.calls.telegram.errors import (
    CalleeUnavailable,
    CallGone,
    CallPrivacyRestricted,
    TelegramError,
)
from telesip.calls.telegram.media_host import HostedMedia
from telesip.calls.telegram.p2p import MediaState, P2PMedia, Pcm, local_protocol

log = logging.getLogger(__name__)

# Telegram's 2048-bit safe prime (messages.getDhConfig), g = 3.
TELEGRAM_P = bytes.fromhex(
    "C71CAEB9C6B1C9048E6C522F70F13F73980D40238E3E21C14934D037563D930F48198A0AA7C14058229493D22530F4DB"
    "FA336F6E0AC925139543AED44CCE7C3720FD51F69458705AC68CD4FE6B6B13ABDC9746512969328454F18FAF8C595F"
    "642477FE96BB2A941D5BCD1D4AC8CC49880708FA9B378E3C4F3A9060BEE67CF9A4A4A695811051907E162753B56B0F"
    "6B410DBA74D8A84B2A14B3144E0EF1284754FD17ED950D5965B4B9DD46582DB1178D169C6BC465B0D6FF9CA3928FEF"
    "5B9AE4E418FC15E83EBEA0F87FA9FF5EED70050DED2849F47BF959D956850CE929851F0D8115F635B105EE2E4E15D0"
    "4B2454BF6F4FADF034B10403119CD8E3B92FCC5B"
)
FakeCallState = Literal["waiting", "accepted", "active", "discarded"]


@dataclass
class FakeCall:
    """A call as the fake server keeps it (tests read ``tg.calls`` to check what happened)."""

    ref: CallRef
    caller_id: int
    callee_id: int
    g_a_hash: bytes = field(repr=False)
    protocol: CallProtocol
    state: FakeCallState = "waiting"
    received: bool = False
    discard_reason: DiscardReason | None = None
    discarded_by: int | None = None
    duration: int | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def other(self, user_id: int) -> int:
        return self.callee_id if user_id == self.caller_id else self.caller_id


class FakeTelegram:
    """Telegram's call servers for any number of accounts in one process."""

    def __init__(
        self,
        *,
        server_ring_timeout: float = 90.0,
        connections: tuple[CallServer, ...] = (),
        p2p_allowed: bool = True,
        media: Callable[..., HostedMedia | P2PMedia] = HostedMedia.solo,
    ) -> None:
        self.server_ring_timeout = server_ring_timeout
        self.connections = connections
        self.p2p_allowed = p2p_allowed
        self.media = media  # the people's call media: a process each, or P2PMedia in this one
        self.dh_version = 1
        self.calls: list[FakeCall] = []
        self.rpcs: list[tuple[int, str]] = []  # (account id, method) in order
        self._endpoints: dict[int, FakeCalls] = {}
        self._users: dict[int, FakeTelegramUser] = {}
        self._by_id: dict[int, FakeCall] = {}
        self._ids = itertools.count(5_000_000_001)

    async def __aenter__(self) -> FakeTelegram:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        for user in list(self._users.values()):
            await user.close()
        for call in self.calls:
            if call.timer is not None:
                call.timer.cancel()
        for endpoint in self._endpoints.values():
            endpoint.hub.close()

    def account(self, user: TgUser | int) -> FakeCalls:
        """The endpoint of an account (created on first use): a caller account's adapter."""
        me = user if isinstance(user, TgUser) else TgUser(user, f"User {user}")
        if me.id not in self._endpoints:
            self._endpoints[me.id] = FakeCalls(self, me)
        return self._endpoints[me.id]

    def user(
        self,
        user_id: int,
        behaviour: Behaviour | None = None,
        *,
        name: str = "",
        tone_hz: float | None = None,
    ) -> FakeTelegramUser:
        """A remote person who takes calls on ``user_id`` as ``behaviour`` says."""
        endpoint = self.account(TgUser(user_id, name or f"User {user_id}"))
        person = FakeTelegramUser(endpoint, behaviour or Behaviour.answer(), tone_hz=tone_hz)
        self._users[user_id] = person
        return person

    def call(self, call_id: int) -> FakeCall:
        return self._by_id[call_id]

    # -- the server's side of each RPC

    def _deliver(self, user_id: int, update: object) -> None:
        endpoint = self._endpoints.get(user_id)
        if endpoint is not None:
            endpoint.hub.publish(update)  # type: ignore[arg-type]

    def _find(self, who: int, ref: CallRef) -> FakeCall:
        call = self._by_id.get(ref.id)
        if (
            call is None
            or call.ref.access_hash != ref.access_hash
            or who
            not in (
                call.caller_id,
                call.callee_id,
            )
        ):
            raise CallGone(reason="CALL_PEER_INVALID")
        return call

    def request(self, who: int, user_id: int, g_a_hash: bytes, protocol: CallProtocol) -> CallRef:
        person = self._users.get(user_id)
        if user_id not in self._endpoints:
            raise CalleeUnavailable(user_id=user_id, reason="USER_ID_INVALID")
        if person is not None and not person.behaviour.allow_calls:
            raise CallPrivacyRestricted(user_id=user_id)
        if len(g_a_hash) != 32:
            raise TelegramError(reason="G_A_HASH_INVALID")
        ref = CallRef(next(self._ids), int.from_bytes(os.urandom(7), "big"))
        call = FakeCall(ref, who, user_id, g_a_hash, protocol)
        self.calls.append(call)
        self._by_id[ref.id] = call
        loop = asyncio.get_running_loop()
        busy = (person is not None and person.behaviour.busy) or any(
            c is not call and c.state != "discarded" and user_id in (c.caller_id, c.callee_id)
            for c in self.calls
        )
        if busy:  # Telegram answers the request, then discards the call at once
            loop.call_soon(self._discard, call, user_id, "busy", 0)
            return ref
        call.timer = loop.call_later(self.server_ring_timeout, self._ring_timeout, call)
        self._deliver(user_id, CallRequested(ref, who, user_id, g_a_hash, protocol))
        return ref

    def _ring_timeout(self, call: FakeCall) -> None:
        if call.state == "waiting":
            self._discard(call, None, "missed", 0)

    def received(self, who: int, ref: CallRef) -> None:
        call = self._find(who, ref)
        if who == call.callee_id and call.state == "waiting" and not call.received:
            call.received = True
            self._deliver(call.caller_id, CallWaiting(ref, received=True))

    def accept(self, who: int, ref: CallRef, g_b: bytes, protocol: CallProtocol) -> None:
        call = self._find(who, ref)
        if call.state == "discarded":
            raise CallGone(reason="CALL_ALREADY_DECLINED")
        if who != call.callee_id or call.state != "waiting":
            raise CallGone(reason="CALL_ALREADY_ACCEPTED")
        call.state = "accepted"
        if call.timer is not None:
            call.timer.cancel()
        self._deliver(call.caller_id, CallAccepted(ref, g_b, protocol))

    def confirm(self, who: int, ref: CallRef, g_a: bytes, fingerprint: int) -> CallReady:
        call = self._find(who, ref)
        if call.state == "discarded":
            raise CallGone(reason="CALL_ALREADY_DECLINED")
        if who != call.caller_id or call.state != "accepted":
            raise TelegramError(reason="CALL_PEER_INVALID")
        if hashlib.sha256(g_a).digest() != call.g_a_hash:
            raise TelegramError(reason="G_A_INVALID (does not match g_a_hash)")
        call.state = "active"
        ready = CallReady(ref, g_a, fingerprint, self.connections, self.p2p_allowed, call.protocol)
        self._deliver(call.callee_id, ready)
        return ready

    def signal(self, who: int, ref: CallRef, data: bytes) -> None:
        call = self._find(who, ref)
        if call.state != "discarded":
            self._deliver(call.other(who), CallSignaling(ref.id, data))

    def discard(self, who: int, ref: CallRef, reason: DiscardReason, duration: int) -> None:
        call = self._find(who, ref)
        if call.state != "discarded":
            self._discard(call, who, reason, duration)

    def _discard(
        self, call: FakeCall, who: int | None, reason: DiscardReason, duration: int
    ) -> None:
        if call.state == "discarded":
            return
        call.state = "discarded"
        call.discard_reason, call.discarded_by, call.duration = reason, who, duration
        if call.timer is not None:
            call.timer.cancel()
        update = CallDiscarded(call.ref.id, reason, duration)
        self._deliver(call.caller_id, update)
        self._deliver(call.callee_id, update)


class FakeCalls:
    """``TelegramCalls`` for one account of the fake server."""

    def __init__(self, server: FakeTelegram, me: TgUser) -> None:
        self.server = server
        self.hub = UpdateHub()
        self._me = me
        self.dh_requests = 0

    @property
    def me(self) -> TgUser:
        return self._me

    def _log(self, method: str) -> None:
        self.server.rpcs.append((self._me.id, method))

    def updates(self) -> Subscription:
        return self.hub.subscribe()

    async def get_dh_config(self) -> DhConfig:
        self._log("getDhConfig")
        self.dh_requests += 1
        return DhConfig(3, TELEGRAM_P, os.urandom(256), self.server.dh_version)

    async def request_call(self, user_id: int, g_a_hash: bytes, protocol: CallProtocol) -> CallRef:
        self._log("requestCall")
        return self.server.request(self._me.id, user_id, g_a_hash, protocol)

    async def accept_call(self, call: CallRef, g_b: bytes, protocol: CallProtocol) -> None:
        self._log("acceptCall")
        self.server.accept(self._me.id, call, g_b, protocol)

    async def confirm_call(
        self, call: CallRef, g_a: bytes, key_fingerprint: int, protocol: CallProtocol
    ) -> CallReady:
        self._log("confirmCall")
        return self.server.confirm(self._me.id, call, g_a, key_fingerprint)

    async def discard_call(self, call: CallRef, reason: DiscardReason, duration: int) -> None:
        self._log("discardCall")
        self.server.discard(self._me.id, call, reason, duration)

    async def send_signaling(self, call: CallRef, data: bytes) -> None:
        self._log("sendSignalingData")
        self.server.signal(self._me.id, call, data)

    async def received_call(self, call: CallRef) -> None:
        self._log("receivedCall")
        self.server.received(self._me.id, call)


@dataclass(frozen=True)
class Behaviour:
    """What a remote person does with a call. Times are seconds after their phone rings."""

    answer_after: float | None = 0.05  # None: never answers
    decline_after: float | None = None
    decline_reason: DiscardReason = "hangup"  # Telegram's apps decline with hangup (TDLib busy)
    hangup_after: float | None = None  # seconds after the media connected
    busy: bool = False  # in another call: Telegram discards with busy, the phone never rings
    allow_calls: bool = True  # False: privacy settings refuse calls (USER_PRIVACY_RESTRICTED)

    @classmethod
    def answer(cls, after: float = 0.05, *, hangup_after: float | None = None) -> Behaviour:
        return cls(answer_after=after, hangup_after=hangup_after)

    @classmethod
    def decline(cls, after: float = 0.05, *, reason: DiscardReason = "hangup") -> Behaviour:
        return cls(answer_after=None, decline_after=after, decline_reason=reason)

    @classmethod
    def no_answer(cls) -> Behaviour:
        return cls(answer_after=None)

    @classmethod
    def busy_line(cls) -> Behaviour:
        return cls(busy=True)

    @classmethod
    def privacy(cls) -> Behaviour:
        return cls(allow_calls=False)


def tone(hz: float, samples: int, *, start: int = 0, level: float = 0.3, rate: int = 8000) -> Pcm:
    """``samples`` of a sine at ``hz`` (phase continues from sample ``start``), int16."""
    t = (np.arange(samples) + start) / rate
    return (np.sin(2 * np.pi * hz * t) * level * 32767).astype(np.int16)


async def play_tone(
    send: Callable[[Pcm], None],
    hz: float,
    *,
    seconds: float | None = None,
    level: float = 0.3,
    rate: int = 8000,
    frame_ms: int = 20,
) -> None:
    """Send a tone in real time (a frame every ``frame_ms``, paced by the loop's clock)."""
    loop = asyncio.get_running_loop()
    n = rate * frame_ms // 1000
    started = loop.time()
    sent = 0
    while seconds is None or sent < seconds * rate:
        send(tone(hz, n, start=sent, level=level, rate=rate))
        sent += n
        delay = started + sent / rate - loop.time()
        await asyncio.sleep(max(delay, 0))  # a clock for real-time audio, not a race guard


class PcmRecorder:
    """Collects 10 ms frames (``on_pcm`` callback) and wakes whoever waits for enough sound."""

    def __init__(self) -> None:
        self.frames: list[Pcm] = []
        self.sound_samples = 0  # samples in frames that are not pure silence
        self._changed = asyncio.Event()

    def __call__(self, frame: Pcm) -> None:
        self.frames.append(frame)
        if np.any(frame):
            self.sound_samples += frame.size
        self._changed.set()

    def clear(self) -> None:
        self.frames.clear()
        self.sound_samples = 0

    def pcm(self) -> Pcm:
        """Everything heard, int16."""
        if not self.frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self.frames)

    async def sound(self, seconds: float, rate: int = 8000) -> Pcm:
        """Once ``seconds`` of sound have arrived: the last ``seconds`` heard."""
        need = int(seconds * rate)
        while self.sound_samples < need:
            self._changed.clear()
            await self._changed.wait()
        return self.pcm()[-need:]


class FakeTelegramUser:
    """A remote person: takes calls on its endpoint with its own ntgcalls instance (callee)."""

    def __init__(self, endpoint: FakeCalls, behaviour: Behaviour, *, tone_hz: float | None) -> None:
        self.endpoint = endpoint
        self.id = endpoint.me.id
        self.behaviour = behaviour
        self.tone_hz = tone_hz
        self.sample_rate = 8000  # of the PCM it sends and hears (ntgcalls takes 8, 16, 48 kHz)
        self.heard = PcmRecorder()
        self.rang = asyncio.Event()
        self.answered = asyncio.Event()
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self.end_reason: DiscardReason | None = None
        self.call: CallRef | None = None
        self.media: HostedMedia | P2PMedia | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected_at: float | None = None
        self._sub = endpoint.updates()
        self._listener = asyncio.create_task(self._listen(), name=f"fake-user-{self.id}")

    def __repr__(self) -> str:
        return f"FakeTelegramUser({self.id}, {self.behaviour})"

    def set_behaviour(self, **changes: object) -> None:
        self.behaviour = replace(self.behaviour, **changes)  # type: ignore[arg-type]

    def send_pcm(self, pcm: Pcm) -> None:
        if self.media is not None and self.connected.is_set():
            self.media.send_pcm(pcm)

    async def hangup(self) -> None:
        if self.call is not None and not self.ended.is_set():
            await self.endpoint.discard_call(self.call, "hangup", self._duration())

    async def close(self) -> None:
        self._sub.close()
        for task in [self._listener, *self._tasks]:
            task.cancel()
        for task in [self._listener, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.media is not None:
            await self.media.close()

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"fake-user-{self.id}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _duration(self) -> int:
        if self._connected_at is None:
            return 0
        return int(asyncio.get_running_loop().time() - self._connected_at)

    async def _listen(self) -> None:
        async for update in self._sub:
            try:
                await self._on_update(update)
            except TelegramError as exc:  # e.g. the caller hung up as we answered
                log.info("fake user %s: %s", self.id, exc.message)

    async def _on_update(self, update: object) -> None:
        if isinstance(update, CallRequested):
            self.call = update.call
            for event in (self.rang, self.answered, self.connected, self.ended):
                event.clear()
            self.heard.clear()
            await self.endpoint.received_call(update.call)
            self.rang.set()
            b = self.behaviour
            if b.answer_after is not None:
                self._spawn(self._answer_later(update, b.answer_after), "answer")
            elif b.decline_after is not None:
                self._spawn(self._decline_later(update.call, b.decline_after), "decline")
        elif self.call is None or getattr(update, "call_id", None) not in (None, self.call.id):
            return
        elif isinstance(update, CallReady) and self.media is not None:
            await self.media.exchange_keys(update.g_a_or_b, update.key_fingerprint)
            await self.media.connect(update.connections, update.p2p_allowed)
        elif isinstance(update, CallSignaling) and self.media is not None:
            self.media.receive_signaling(update.data)
        elif isinstance(update, CallDiscarded):
            self.end_reason = update.reason
            for task in list(self._tasks):
                task.cancel()
            self.ended.set()  # the person's call is over now; their media process ends after
            if self.media is not None:
                await self.media.close()
                self.media = None

    async def _answer_later(self, req: CallRequested, after: float) -> None:
        await asyncio.sleep(after)  # the person takes this long to pick up
        if self.ended.is_set():
            return
        dh = await self.endpoint.get_dh_config()
        self.media = media = self.endpoint.server.media(
            req.caller_id,
            sample_rate=self.sample_rate,
            on_state=self._media_state,
            on_signaling=self._signal,
        )
        media.on_pcm(self.heard)
        try:
            await media.open()
            g_b = await media.init_exchange(dh, req.g_a_hash)
            await self.endpoint.accept_call(req.call, g_b, local_protocol())
        except TelegramError as exc:  # the caller gave up as we picked up
            log.info("fake user %s could not answer: %s", self.id, exc.message)
            await media.close()
            return
        self.answered.set()

    async def _decline_later(self, call: CallRef, after: float) -> None:
        await asyncio.sleep(after)
        with contextlib.suppress(TelegramError):
            await self.endpoint.discard_call(call, self.behaviour.decline_reason, 0)

    def _signal(self, data: bytes) -> None:
        if self.call is not None:
            self._spawn(self.endpoint.send_signaling(self.call, data), "signal")

    def _media_state(self, state: MediaState) -> None:
        if state == "connected" and not self.connected.is_set():
            self._connected_at = asyncio.get_running_loop().time()
            self.connected.set()
            if self.tone_hz is not None:
                tone = play_tone(self.send_pcm, self.tone_hz, rate=self.sample_rate)
                self._spawn(tone, "tone")
            if self.behaviour.hangup_after is not None:
                self._spawn(self._hangup_later(self.behaviour.hangup_after), "hangup")

    async def _hangup_later(self, after: float) -> None:
        await asyncio.sleep(after)
        with contextlib.suppress(TelegramError):
            await self.hangup()
