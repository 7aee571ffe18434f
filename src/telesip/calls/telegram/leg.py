"""``TelegramLeg``: one outgoing private call from a caller account, audio as PCM at its rate
(8, 16 or 48 kHz: the SIP codec's).

``await leg.start(user_id)`` places the call (errors such as ``CallPrivacyRestricted`` are
raised there); a task then drives it: ringing when the person's app rings, the key exchange when
they answer (init_exchange -> requestCall, acceptCall -> exchange_keys -> confirmCall, the
confirmed call -> connect_p2p), signaling relayed both ways, and the end. Everything runs in the
event loop; the call's ntgcalls runs in its own process (``HostedMedia``, see media_host.py).

States: calling -> ringing -> answered -> connected -> ended (any state may end). End reasons:
``hangup`` (we hung up), ``remote-hangup`` (they did, after answering), ``declined`` and
``busy`` (before answering), ``no-answer`` (our ring timeout, or Telegram's), ``disconnect``
(Telegram or the media lost the call), ``failed`` (an error on our side).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal

from telesip.calls.telegram.adapter import (
    CallAccepted,
    CallDiscarded,
    CallReady,
    CallRef,
    CallSignaling,
    CallWaiting,
    DiscardReason,
    Subscription,
    TelegramCalls,
    update_call_id,
)
from telesip.calls.telegram.errors import TelegramError
from telesip.calls.telegram.media_host import HostedMedia
from telesip.calls.telegram.p2p import MediaState, Pcm, local_protocol

log = logging.getLogger(__name__)

LegState = Literal["idle", "calling", "ringing", "answered", "connected", "ended"]
EndReason = Literal[
    "hangup", "remote-hangup", "declined", "busy", "no-answer", "disconnect", "failed"
]
_ORDER: dict[LegState, int] = {
    "idle": 0,
    "calling": 1,
    "ringing": 2,
    "answered": 3,
    "connected": 4,
    "ended": 5,
}


def _remote_end(reason: DiscardReason | None, answered: bool) -> EndReason:
    """What Telegram's discard reason means for us (decline is ``hangup`` before an answer)."""
    if reason == "disconnect":
        return "disconnect"
    if answered:
        return "remote-hangup"
    if reason == "busy":
        return "busy"
    if reason == "missed":
        return "no-answer"
    return "declined"


class TelegramLeg:
    """One call placed by ``calls`` (a caller account) to a Telegram user."""

    def __init__(
        self,
        calls: TelegramCalls,
        *,
        ring_timeout: float | None = 45.0,
        sample_rate: int = 8000,
        on_state: Callable[[LegState], None] | None = None,
        on_ring_timeout: Callable[[], None] | None = None,
    ) -> None:
        self.calls = calls
        self.ring_timeout = ring_timeout
        self.sample_rate = sample_rate
        self.state: LegState = "idle"
        self.end_reason: EndReason | None = None
        self.user_id: int | None = None
        self.call: CallRef | None = None
        self.ringing = asyncio.Event()
        self.answered = asyncio.Event()
        self.connected = asyncio.Event()
        self.ended = asyncio.Event()
        self._on_state = on_state
        self._on_ring_timeout = on_ring_timeout
        self._on_pcm: Callable[[Pcm], None] | None = None
        self._loop = asyncio.get_running_loop()
        self._media: HostedMedia | None = None
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._ring_timer: asyncio.TimerHandle | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._ready = False
        self._connected_at: float | None = None
        self._ending: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"TelegramLeg(user={self.user_id}, state={self.state}, reason={self.end_reason})"

    # -- public

    @property
    def duration(self) -> int:
        """Whole seconds since the media connected (what discardCall reports)."""
        if self._connected_at is None:
            return 0
        return int(self._loop.time() - self._connected_at)

    def on_pcm(self, callback: Callable[[Pcm], None] | None) -> None:
        """``callback(pcm)`` in the loop with the audio heard from the person (20 ms at a time)."""
        self._on_pcm = callback
        if self._media is not None:
            self._media.on_pcm(callback)

    def send_pcm(self, frame: Pcm) -> None:
        """int16 samples at ``sample_rate`` to the person (dropped unless connected)."""
        if self.state == "connected" and self._media is not None:
            self._media.send_pcm(frame)

    async def start(self, user_id: int) -> None:
        """Place the call. Raises the adapter's errors (the leg is then ended, ``failed``)."""
        if self.state != "idle":
            raise RuntimeError("a TelegramLeg places one call")
        self.user_id = user_id
        self._set("calling")
        self._sub = self.calls.updates()  # before the request: a quick answer is not lost
        try:
            self._media = HostedMedia(
                user_id,
                sample_rate=self.sample_rate,
                on_state=self._media_state,
                on_signaling=self._outbox.put_nowait,
            )
            self._media.on_pcm(self._on_pcm)
            await self._media.open()
            dh = await self.calls.get_dh_config()
            g_a_hash = await self._media.init_exchange(dh, None)
            self.call = await self.calls.request_call(user_id, g_a_hash, local_protocol())
        except BaseException:
            await self._end("failed", discard=None)
            raise
        if self.ended.is_set() or self.end_reason is not None:  # hung up meanwhile
            await self._discard("missed")
            return
        if self.ring_timeout is not None:
            self._ring_timer = self._loop.call_later(self.ring_timeout, self._ring_timed_out)
        self._sender = asyncio.create_task(self._send_signaling(), name=f"tg-signaling-{user_id}")
        self._task = asyncio.create_task(self._drive(), name=f"tg-leg-{user_id}")

    async def wait_until(self, state: LegState) -> bool:
        """True once the leg has reached ``state``, False if it ended first (bound it with
        ``asyncio.timeout``)."""
        event = {
            "ringing": self.ringing,
            "answered": self.answered,
            "connected": self.connected,
            "ended": self.ended,
        }.get(state)
        if event is None:
            raise ValueError(f"cannot wait for {state!r}")
        waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self.ended.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return event.is_set()

    async def hangup(self) -> None:
        """End the call: before the answer the person sees a missed call, after it a hang-up."""
        answered = self.answered.is_set()
        await self._end("hangup", discard="hangup" if answered else "missed")

    # -- driving

    def _set(self, state: LegState) -> None:
        if self.state == "ended" or _ORDER[state] <= _ORDER[self.state]:
            return
        self.state = state
        event = {"ringing": self.ringing, "answered": self.answered, "connected": self.connected}
        if state in event:
            event[state].set()
        self._notify(state)

    def _notify(self, state: LegState) -> None:
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("on_state callback failed")

    async def _drive(self) -> None:
        assert self._sub is not None and self.call is not None
        try:
            async for update in self._sub:
                if update_call_id(update) != self.call.id:
                    continue
                if isinstance(update, CallWaiting):
                    if update.received:
                        self._set("ringing")
                elif isinstance(update, CallAccepted):
                    await self._accepted(update)
                elif isinstance(update, CallReady):
                    await self._ready_to_connect(update)
                elif isinstance(update, CallSignaling):
                    if self._media is not None:
                        self._media.receive_signaling(update.data)
                elif isinstance(update, CallDiscarded):
                    reason = _remote_end(update.reason, self.answered.is_set())
                    await self._end(reason, discard=None)
                if self.state == "ended":
                    break
        except TelegramError as exc:
            log.warning("call to %s failed: %s", self.user_id, exc.message)
            await self._end("failed", discard="disconnect")
        except Exception:
            log.exception("call to %s failed", self.user_id)
            await self._end("failed", discard="disconnect")

    async def _accepted(self, update: CallAccepted) -> None:
        assert self._media is not None and self.call is not None
        if self.answered.is_set():
            return
        self._cancel_ring_timer()
        self._set("ringing")
        self._set("answered")
        g_a, fingerprint = await self._media.exchange_keys(update.g_b, 0)
        ready = await self.calls.confirm_call(self.call, g_a, fingerprint, local_protocol())
        await self._ready_to_connect(ready)

    async def _ready_to_connect(self, ready: CallReady) -> None:
        if self._ready or self._media is None or not self.answered.is_set():
            return
        self._ready = True
        await self._media.connect(ready.connections, ready.p2p_allowed)

    def _media_state(self, state: MediaState) -> None:
        if self.state == "ended":
            return
        if state == "connected":
            if self._connected_at is None:
                self._connected_at = self._loop.time()
            self._set("connected")
        elif state in ("failed", "timeout", "closed"):
            log.warning("call to %s: media %s", self.user_id, state)
            self._spawn_end("disconnect", "disconnect")

    def _ring_timed_out(self) -> None:
        self._ring_timer = None
        if self.answered.is_set() or self.state == "ended":
            return
        if self._on_ring_timeout is not None:
            try:
                self._on_ring_timeout()
            except Exception:
                log.exception("on_ring_timeout callback failed")
        self._spawn_end("no-answer", "missed")

    def _spawn_end(self, reason: EndReason, discard: DiscardReason | None) -> None:
        if self._ending is None:
            self._ending = asyncio.create_task(self._end(reason, discard=discard))

    def _cancel_ring_timer(self) -> None:
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None

    async def _send_signaling(self) -> None:
        while True:
            data = await self._outbox.get()
            if self.call is None:
                continue
            try:
                await self.calls.send_signaling(self.call, data)
            except TelegramError as exc:
                log.warning("signaling to %s failed: %s", self.user_id, exc.message)

    async def _discard(self, reason: DiscardReason) -> None:
        if self.call is None:
            return
        try:
            await self.calls.discard_call(self.call, reason, self.duration)
        except TelegramError as exc:
            log.warning("discarding the call to %s failed: %s", self.user_id, exc.message)

    async def _end(self, reason: EndReason, *, discard: DiscardReason | None) -> None:
        """End once: discard at Telegram if we are the ones ending, stop the media, tidy up."""
        if self.state == "ended":
            return
        duration = self.duration
        self.end_reason = reason
        self._cancel_ring_timer()
        if self._sub is not None:
            self._sub.close()
        current = asyncio.current_task()
        for task in (self._task, self._sender):
            if task is not None and task is not current:
                task.cancel()
        self.state = "ended"  # at once, so that nothing starts again; ``ended`` fires when done
        if discard is not None and self.call is not None:
            try:
                await self.calls.discard_call(self.call, discard, duration)
            except TelegramError as exc:
                log.warning("discarding the call to %s failed: %s", self.user_id, exc.message)
        if self._media is not None:
            with contextlib.suppress(TelegramError):
                await self._media.close()
        log.info("call to %s ended: %s after %d s", self.user_id, reason, duration)
        self.ended.set()
        self._notify("ended")
