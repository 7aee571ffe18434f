"""``TelegramCalls`` on Telethon: TL objects in and out, RPC errors translated.

The client is anything that behaves like ``telethon.TelegramClient`` for the few methods used
(``__call__`` for requests, ``get_me``, ``get_input_entity``, ``add_event_handler``,
``remove_event_handler``), so tests drive it with constructed TL objects and no network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from telethon import errors as tg_errors
from telethon import events, utils
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
    CallUpdate,
    CallWaiting,
    DhConfig,
    DiscardReason,
    Subscription,
    TgUser,
    UpdateHub,
)
from telesip.calls.telegram.errors import (
    CalleeUnavailable,
    CallerUnavailable,
    CallGone,
    CallPrivacyRestricted,
    SessionRevoked,
    TelegramError,
)
from telesip.domain.settings import Secret

log = logging.getLogger(__name__)

RANDOM_LENGTH = 256

_REASON_TO_TL: dict[DiscardReason, Callable[[], Any]] = {
    "missed": types.PhoneCallDiscardReasonMissed,
    "busy": types.PhoneCallDiscardReasonBusy,
    "hangup": types.PhoneCallDiscardReasonHangup,
    "disconnect": types.PhoneCallDiscardReasonDisconnect,
}
_TL_TO_REASON: dict[type, DiscardReason] = {
    types.PhoneCallDiscardReasonMissed: "missed",
    types.PhoneCallDiscardReasonBusy: "busy",
    types.PhoneCallDiscardReasonHangup: "hangup",
    types.PhoneCallDiscardReasonDisconnect: "disconnect",
}


class TelethonClient(Protocol):
    """The part of ``TelegramClient`` this adapter uses."""

    def __call__(self, request: Any) -> Awaitable[Any]: ...
    async def get_me(self) -> Any: ...
    async def get_input_entity(self, peer: Any) -> Any: ...
    def add_event_handler(self, callback: Callable[[Any], Any], event: Any = None) -> None: ...
    def remove_event_handler(self, callback: Callable[[Any], Any], event: Any = None) -> int: ...


def user_from_tl(user: Any) -> TgUser:
    return TgUser(
        id=int(user.id),
        first_name=user.first_name or "",
        last_name=user.last_name or "",
        username=user.username,
        phone=user.phone,
    )


def protocol_to_tl(protocol: CallProtocol) -> types.PhoneCallProtocol:
    return types.PhoneCallProtocol(
        min_layer=protocol.min_layer,
        max_layer=protocol.max_layer,
        library_versions=list(protocol.library_versions),
        udp_p2p=protocol.udp_p2p,
        udp_reflector=protocol.udp_reflector,
    )


def protocol_from_tl(protocol: Any) -> CallProtocol:
    return CallProtocol(
        min_layer=protocol.min_layer,
        max_layer=protocol.max_layer,
        library_versions=tuple(protocol.library_versions),
        udp_p2p=bool(protocol.udp_p2p),
        udp_reflector=bool(protocol.udp_reflector),
    )


def server_from_tl(conn: Any) -> CallServer:
    if isinstance(conn, types.PhoneConnectionWebrtc):
        return CallServer(
            id=conn.id,
            ip=conn.ip,
            ipv6=conn.ipv6,
            port=conn.port,
            username=conn.username,
            password=conn.password,
            turn=bool(conn.turn),
            stun=bool(conn.stun),
        )
    return CallServer(
        id=conn.id,
        ip=conn.ip,
        ipv6=conn.ipv6,
        port=conn.port,
        tcp=bool(conn.tcp),
        peer_tag=conn.peer_tag,
    )


def ref_of(call: Any) -> CallRef:
    return CallRef(id=call.id, access_hash=call.access_hash)


def ready_from_tl(call: types.PhoneCall) -> CallReady:
    return CallReady(
        call=ref_of(call),
        g_a_or_b=call.g_a_or_b,
        key_fingerprint=call.key_fingerprint,
        connections=tuple(server_from_tl(c) for c in call.connections),
        p2p_allowed=bool(call.p2p_allowed),
        protocol=protocol_from_tl(call.protocol),
    )


def update_from_tl(update: Any) -> CallUpdate | None:
    """The typed update for a raw Telethon update; None for anything else (or phoneCallEmpty)."""
    if isinstance(update, types.UpdatePhoneCallSignalingData):
        return CallSignaling(call_id=update.phone_call_id, data=update.data)
    if not isinstance(update, types.UpdatePhoneCall):
        return None
    call = update.phone_call
    if isinstance(call, types.PhoneCallRequested):
        return CallRequested(
            call=ref_of(call),
            caller_id=call.admin_id,
            callee_id=call.participant_id,
            g_a_hash=call.g_a_hash,
            protocol=protocol_from_tl(call.protocol),
        )
    if isinstance(call, types.PhoneCallWaiting):
        return CallWaiting(call=ref_of(call), received=call.receive_date is not None)
    if isinstance(call, types.PhoneCallAccepted):
        return CallAccepted(
            call=ref_of(call), g_b=call.g_b, protocol=protocol_from_tl(call.protocol)
        )
    if isinstance(call, types.PhoneCall):
        return ready_from_tl(call)
    if isinstance(call, types.PhoneCallDiscarded):
        reason = _TL_TO_REASON.get(type(call.reason)) if call.reason is not None else None
        return CallDiscarded(call_id=call.id, reason=reason, duration=call.duration)
    return None  # phoneCallEmpty, or a kind newer than this code


def translate(exc: Exception, *, user_id: int | None = None) -> TelegramError:
    """Telethon's error as telesip's (the caller raises it ``from exc``)."""
    who = user_id if user_id is not None else "?"
    if isinstance(exc, tg_errors.UserPrivacyRestrictedError | tg_errors.UserIsBlockedError):
        return CallPrivacyRestricted(user_id=who)
    if isinstance(exc, tg_errors.ParticipantVersionOutdatedError):
        return CalleeUnavailable(user_id=who, reason="their Telegram app is too old for calls")
    if isinstance(exc, tg_errors.UserIdInvalidError | tg_errors.InputUserDeactivatedError):
        return CalleeUnavailable(user_id=who, reason="no such user, or the account was deleted")
    if isinstance(
        exc,
        tg_errors.CallAlreadyDeclinedError
        | tg_errors.CallAlreadyAcceptedError
        | tg_errors.CallPeerInvalidError,
    ):
        return CallGone(reason=type(exc).__name__.removesuffix("Error"))
    if isinstance(exc, tg_errors.FloodWaitError):
        return CallerUnavailable(reason=f"Telegram asks to wait {exc.seconds} s (flood wait)")
    if isinstance(exc, tg_errors.PeerFloodError):
        return CallerUnavailable(reason="Telegram limits this account (too many requests)")
    if isinstance(
        exc,
        tg_errors.AuthKeyUnregisteredError
        | tg_errors.SessionRevokedError
        | tg_errors.UserDeactivatedError
        | tg_errors.UserDeactivatedBanError,
    ):
        return SessionRevoked()
    if isinstance(exc, OSError):  # Telethon gave up reaching Telegram (its own retries)
        return CallerUnavailable(reason=f"cannot reach Telegram ({type(exc).__name__}: {exc})")
    if isinstance(exc, tg_errors.RPCError):
        return TelegramError(reason=f"{exc.message or type(exc).__name__} ({exc.code})")
    return TelegramError(reason=f"{type(exc).__name__}: {exc}")


class TelethonCalls:
    """One caller account's calls on a connected, authorised Telethon client."""

    def __init__(self, client: TelethonClient, me: TgUser) -> None:
        self._client = client
        self._me = me
        self._hub = UpdateHub()
        self._dh: DhConfig | None = None
        self._disconnect: Callable[[], Awaitable[Any]] | None = None
        self._disconnected: Callable[[], Awaitable[Any]] | None = None
        self._event = events.Raw(types=[types.UpdatePhoneCall, types.UpdatePhoneCallSignalingData])
        client.add_event_handler(self._on_raw, self._event)

    @classmethod
    async def start(cls, client: TelethonClient) -> TelethonCalls:
        """Adapter for an authorised client (``get_me`` names the caller account)."""
        try:
            me = await client.get_me()
        except Exception as exc:
            raise translate(exc) from exc
        if me is None:
            raise CallerUnavailable(reason="the session is not logged in")
        return cls(client, user_from_tl(me))

    @classmethod
    async def connect(cls, session: Secret, api_id: int, api_hash: str) -> TelethonCalls:
        """A caller account from its stored StringSession (``sessions.SessionStore.load``);
        ``aclose()`` disconnects it."""
        from telethon import TelegramClient
        from telethon.sessions import StringSession

        client = TelegramClient(StringSession(session.reveal()), api_id, api_hash)
        try:
            await client.connect()
            if not await client.is_user_authorized():
                raise SessionRevoked()
            calls = await cls.start(client)
        except TelegramError:
            await client.disconnect()
            raise
        except Exception as exc:  # cannot reach Telegram, or the session is unreadable
            await client.disconnect()
            raise translate(exc) from exc
        calls._disconnect = client.disconnect
        calls._disconnected = lambda: client.disconnected
        return calls

    async def wait_disconnected(self) -> None:
        """Returns once the client is disconnected for good: Telethon's own reconnects gave
        up, or ``aclose``. Only for a client made by ``connect``; others never return."""
        if self._disconnected is None:
            await asyncio.Event().wait()
            return
        with contextlib.suppress(Exception):  # the error it went down with: the caller retries
            await self._disconnected()

    async def aclose(self) -> None:
        self.close()
        if self._disconnect is not None:
            await self._disconnect()

    @property
    def me(self) -> TgUser:
        return self._me

    def close(self) -> None:
        self._client.remove_event_handler(self._on_raw, self._event)
        self._hub.close()

    def updates(self) -> Subscription:
        return self._hub.subscribe()

    async def _on_raw(self, update: Any) -> None:
        typed = update_from_tl(update)
        if typed is not None:
            log.debug("call update %s", type(typed).__name__)
            self._hub.publish(typed)

    async def _rpc(self, request: Any, *, user_id: int | None = None) -> Any:
        try:
            return await self._client(request)
        except Exception as exc:
            raise translate(exc, user_id=user_id) from exc

    async def get_dh_config(self) -> DhConfig:
        version = self._dh.version if self._dh is not None else 0
        result = await self._rpc(
            functions.messages.GetDhConfigRequest(version=version, random_length=RANDOM_LENGTH)
        )
        if isinstance(result, types.messages.DhConfig):
            if len(result.p) != 256 or not 2 <= result.g <= 7:
                raise TelegramError(reason="Telegram sent DH parameters of an unexpected shape")
            self._dh = DhConfig(g=result.g, p=result.p, random=b"", version=result.version)
        elif self._dh is None:  # not modified, but nothing cached: cannot happen with version 0
            raise TelegramError(reason="Telegram sent no DH parameters")
        random = result.random
        if len(random) != RANDOM_LENGTH:
            raise TelegramError(reason="Telegram sent DH randomness of an unexpected length")
        return DhConfig(g=self._dh.g, p=self._dh.p, random=random, version=self._dh.version)

    async def request_call(self, user_id: int, g_a_hash: bytes, protocol: CallProtocol) -> CallRef:
        try:
            peer = utils.get_input_user(await self._client.get_input_entity(user_id))
        except (ValueError, TypeError) as exc:
            raise CalleeUnavailable(
                user_id=user_id,
                reason="this caller account does not know them yet (no access hash)",
            ) from exc
        except Exception as exc:
            raise translate(exc, user_id=user_id) from exc
        result = await self._rpc(
            functions.phone.RequestCallRequest(
                user_id=peer,
                g_a_hash=g_a_hash,
                protocol=protocol_to_tl(protocol),
                random_id=secrets.randbits(31),
            ),
            user_id=user_id,
        )
        return ref_of(result.phone_call)

    async def accept_call(self, call: CallRef, g_b: bytes, protocol: CallProtocol) -> None:
        await self._rpc(
            functions.phone.AcceptCallRequest(
                peer=_input(call), g_b=g_b, protocol=protocol_to_tl(protocol)
            )
        )

    async def confirm_call(
        self, call: CallRef, g_a: bytes, key_fingerprint: int, protocol: CallProtocol
    ) -> CallReady:
        result = await self._rpc(
            functions.phone.ConfirmCallRequest(
                peer=_input(call),
                g_a=g_a,
                key_fingerprint=key_fingerprint,
                protocol=protocol_to_tl(protocol),
            )
        )
        confirmed = result.phone_call
        if isinstance(confirmed, types.PhoneCallDiscarded):
            raise CallGone(reason="discarded while confirming")
        if not isinstance(confirmed, types.PhoneCall):
            raise TelegramError(reason=f"confirmCall returned {type(confirmed).__name__}")
        return ready_from_tl(confirmed)

    async def discard_call(self, call: CallRef, reason: DiscardReason, duration: int) -> None:
        request = functions.phone.DiscardCallRequest(
            peer=_input(call), duration=duration, reason=_REASON_TO_TL[reason](), connection_id=0
        )
        with contextlib.suppress(CallGone):  # both hung up at once: over either way
            await self._rpc(request)

    async def send_signaling(self, call: CallRef, data: bytes) -> None:
        await self._rpc(functions.phone.SendSignalingDataRequest(peer=_input(call), data=data))

    async def received_call(self, call: CallRef) -> None:
        await self._rpc(functions.phone.ReceivedCallRequest(peer=_input(call)))


def _input(call: CallRef) -> types.InputPhoneCall:
    return types.InputPhoneCall(id=call.id, access_hash=call.access_hash)
