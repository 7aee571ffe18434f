"""The one interface to Telegram's call RPCs and call updates, as typed values.

``TelegramCalls`` is what a caller account can do (MTProto ``phone.*`` and
``messages.getDhConfig``); ``telethon_adapter.TelethonCalls`` implements it for real and the
tests' ``FakeTelegram`` (tests/fakes/telegram_calls.py) in process. Nothing here imports
Telethon or ntgcalls.

Updates are delivered to subscriptions: ``updates()`` returns a :class:`Subscription` that
receives every update from the moment it is created (subscribe *before* requesting a call, so
an answer that comes quickly is not lost) until it is closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

DiscardReason = Literal["missed", "busy", "hangup", "disconnect"]
DISCARD_REASONS: tuple[DiscardReason, ...] = ("missed", "busy", "hangup", "disconnect")


@dataclass(frozen=True, slots=True)
class DhConfig:
    """Diffie-Hellman parameters of ``messages.getDhConfig`` and fresh server randomness."""

    g: int
    p: bytes
    random: bytes
    version: int = 0

    def __repr__(self) -> str:  # p and random are long and say nothing to a reader
        return f"DhConfig(g={self.g}, p=<{len(self.p)} bytes>, version={self.version})"


@dataclass(frozen=True, slots=True)
class TgUser:
    id: int
    first_name: str = ""
    last_name: str = ""
    username: str | None = None
    phone: str | None = None

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or (f"@{self.username}" if self.username else str(self.id))


@dataclass(frozen=True, slots=True)
class CallRef:
    """A call as the RPCs name it (``inputPhoneCall``)."""

    id: int
    access_hash: int


@dataclass(frozen=True, slots=True)
class CallProtocol:
    """``phoneCallProtocol``: what the two apps' call libraries can speak."""

    min_layer: int
    max_layer: int
    library_versions: tuple[str, ...]
    udp_p2p: bool = True
    udp_reflector: bool = True


@dataclass(frozen=True, slots=True)
class CallServer:
    """A ``phoneConnection`` (reflector, with peer_tag) or ``phoneConnectionWebrtc`` (TURN)."""

    id: int
    ip: str
    ipv6: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    turn: bool = False
    stun: bool = False
    tcp: bool = False
    peer_tag: bytes | None = field(default=None, repr=False)


# -- updates (``updatePhoneCall`` with each ``PhoneCall`` kind, ``updatePhoneCallSignalingData``)


@dataclass(frozen=True, slots=True)
class CallRequested:
    """Someone calls this account (``phoneCallRequested``); answer with accept_call."""

    call: CallRef
    caller_id: int
    callee_id: int
    g_a_hash: bytes = field(repr=False)
    protocol: CallProtocol


@dataclass(frozen=True, slots=True)
class CallWaiting:
    """The call waits for the callee (``phoneCallWaiting``); ``received``: their app rings."""

    call: CallRef
    received: bool


@dataclass(frozen=True, slots=True)
class CallAccepted:
    """The callee answered (``phoneCallAccepted``): the caller confirms with its g_a."""

    call: CallRef
    g_b: bytes = field(repr=False)
    protocol: CallProtocol


@dataclass(frozen=True, slots=True)
class CallReady:
    """The call is confirmed (``phoneCall``): keys can be checked and the media connected."""

    call: CallRef
    g_a_or_b: bytes = field(repr=False)
    key_fingerprint: int
    connections: tuple[CallServer, ...]
    p2p_allowed: bool
    protocol: CallProtocol


@dataclass(frozen=True, slots=True)
class CallDiscarded:
    """The call ended (``phoneCallDiscarded``); ``reason`` is None when Telegram gives none."""

    call_id: int
    reason: DiscardReason | None
    duration: int | None = None


@dataclass(frozen=True, slots=True)
class CallSignaling:
    """An opaque blob from the other app's call library (``updatePhoneCallSignalingData``)."""

    call_id: int
    data: bytes = field(repr=False)


CallUpdate = CallRequested | CallWaiting | CallAccepted | CallReady | CallDiscarded | CallSignaling


def update_call_id(update: CallUpdate) -> int:
    if isinstance(update, CallDiscarded | CallSignaling):
        return update.call_id
    return update.call.id


class Subscription:
    """A queue of updates; iterate it, ``close()`` it (or ``async with``) when done."""

    def __init__(self, hub: UpdateHub) -> None:
        self._hub = hub
        self._queue: asyncio.Queue[CallUpdate | None] = asyncio.Queue()
        self.closed = False

    def put(self, update: CallUpdate) -> None:
        if not self.closed:
            self._queue.put_nowait(update)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._hub.discard(self)
            self._queue.put_nowait(None)  # wakes a reader

    async def get(self) -> CallUpdate:
        """The next update; raises ``StopAsyncIteration`` once closed."""
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # later readers see the end too
            raise StopAsyncIteration
        return item

    def __aiter__(self) -> AsyncIterator[CallUpdate]:
        return self

    async def __anext__(self) -> CallUpdate:
        return await self.get()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class UpdateHub:
    """Fans updates out to every open subscription (used by both implementations)."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self) -> Subscription:
        sub = Subscription(self)
        self._subs.append(sub)
        return sub

    def discard(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, update: CallUpdate) -> None:
        for sub in list(self._subs):
            sub.put(update)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()


class TelegramCalls(Protocol):
    """What one caller account does with calls. Errors are ``telegram.errors`` ones."""

    @property
    def me(self) -> TgUser: ...

    async def get_dh_config(self) -> DhConfig:
        """g and p (cached by version) with 256 fresh random bytes from Telegram."""
        ...

    async def request_call(self, user_id: int, g_a_hash: bytes, protocol: CallProtocol) -> CallRef:
        """``phone.requestCall``; ``CallPrivacyRestricted`` when the person refuses calls."""
        ...

    async def accept_call(self, call: CallRef, g_b: bytes, protocol: CallProtocol) -> None:
        """``phone.acceptCall`` (the callee's side)."""
        ...

    async def confirm_call(
        self, call: CallRef, g_a: bytes, key_fingerprint: int, protocol: CallProtocol
    ) -> CallReady:
        """``phone.confirmCall``: the caller's confirmed call, with the servers to connect to."""
        ...

    async def discard_call(self, call: CallRef, reason: DiscardReason, duration: int) -> None:
        """``phone.discardCall``; a call that has already ended is not an error."""
        ...

    async def send_signaling(self, call: CallRef, data: bytes) -> None:
        """``phone.sendSignalingData``."""
        ...

    async def received_call(self, call: CallRef) -> None:
        """``phone.receivedCall``: the callee's app says it is ringing."""
        ...

    def updates(self) -> Subscription:
        """A new subscription to this account's call updates."""
        ...
