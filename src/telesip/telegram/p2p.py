"""One private call's media: an ntgcalls instance with EXTERNAL PCM in and out.

Used by both ends: ``TelegramLeg`` (the caller) and the fake's remote person (the callee).
Rules: every ntgcalls method is called on the event loop's thread (they return asyncio
futures); ntgcalls calls back on its own native threads, and those callbacks only copy the data
and hop into the loop with ``call_soon_threadsafe`` — they never touch an asyncio object.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Literal

import ntgcalls
import numpy as np
import numpy.typing as npt

from telesip.telegram.adapter import CallProtocol, CallServer, DhConfig
from telesip.telegram.errors import CallMediaFailed

log = logging.getLogger(__name__)

Pcm = npt.NDArray[np.int16]
MediaState = Literal["connecting", "connected", "failed", "timeout", "closed"]
_STATES: dict[Any, MediaState] = {
    ntgcalls.ConnectionState.CONNECTING: "connecting",
    ntgcalls.ConnectionState.CONNECTED: "connected",
    ntgcalls.ConnectionState.FAILED: "failed",
    ntgcalls.ConnectionState.TIMEOUT: "timeout",
    ntgcalls.ConnectionState.CLOSED: "closed",
}


def local_protocol() -> CallProtocol:
    """What this ntgcalls build speaks (``phoneCallProtocol`` of our requests)."""
    p = ntgcalls.NTgCalls.get_protocol()
    return CallProtocol(
        min_layer=p.min_layer,
        max_layer=p.max_layer,
        library_versions=tuple(p.library_versions),
        udp_p2p=p.udp_p2p,
        udp_reflector=p.udp_reflector,
    )


def _rtc_server(s: CallServer) -> Any:
    return ntgcalls.RTCServer(
        s.id, s.ip, s.ipv6, s.port, s.username, s.password, s.turn, s.stun, s.tcp, s.peer_tag
    )


def _call(ref: weakref.ref[P2PMedia], method: str, *args: Any) -> None:
    media = ref()
    if media is not None:
        getattr(media, method)(*args)


class _Closed:
    """Stands in for the native instance after close: every call is a no-op future."""

    def __getattr__(self, name: str) -> Callable[..., asyncio.Future[None]]:
        def call(*_args: Any) -> asyncio.Future[None]:
            fut = asyncio.get_running_loop().create_future()
            fut.set_exception(CallMediaFailed(reason="the call's media is closed"))
            return fut

        return call


class P2PMedia:
    """The media of one call with ``peer_id``, PCM at ``sample_rate`` mono both ways."""

    def __init__(
        self,
        peer_id: int,
        *,
        sample_rate: int = 8000,
        on_state: Callable[[MediaState], None] | None = None,
        on_signaling: Callable[[bytes], None] | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.sample_rate = sample_rate
        self._frame = sample_rate // 100  # ntgcalls takes 10 ms frames
        self._pending: Pcm = np.zeros(0, dtype=np.int16)
        self._on_state = on_state
        self._on_signaling = on_signaling
        self._on_pcm: Callable[[Pcm], None] | None = None
        self._loop = asyncio.get_running_loop()
        self._ntg: Any = ntgcalls.NTgCalls()
        self._closed = False
        self._inflight: set[Any] = set()  # native calls not finished yet (frames, signaling)
        self.frames_sent = 0
        self.frames_received = 0
        # The native side holds its callbacks where Python's collector cannot see them: they
        # hold this object weakly, so dropping it drops the native instance (no hidden cycle).
        ref = weakref.ref(self)
        self._ntg.on_signaling_data(lambda _p, data: _call(ref, "_native_signaling", data))
        self._ntg.on_connection_change(lambda _p, info: _call(ref, "_native_connection", info))
        self._ntg.on_frames(lambda _p, mode, _d, frames: _call(ref, "_native_frames", mode, frames))

    # -- native threads: copy, hop, nothing else

    def _hop(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the call is long over
            self._loop.call_soon_threadsafe(fn, *args)

    def _native_signaling(self, data: bytes) -> None:
        self._hop(self._deliver_signaling, bytes(data))

    def _native_connection(self, info: Any) -> None:
        if info.kind == ntgcalls.ConnectionKind.NORMAL:
            self._hop(self._deliver_state, _STATES.get(info.state, "failed"))

    def _native_frames(self, mode: Any, frames: Any) -> None:
        if mode != ntgcalls.StreamMode.PLAYBACK:
            return
        for frame in frames:
            self._hop(self._deliver_pcm, np.frombuffer(frame.data, dtype="<i2"))

    # -- in the loop

    def _deliver_signaling(self, data: bytes) -> None:
        if not self._closed and self._on_signaling is not None:
            self._on_signaling(data)

    def _deliver_state(self, state: MediaState) -> None:
        if not self._closed and self._on_state is not None:
            self._on_state(state)

    def _deliver_pcm(self, pcm: Pcm) -> None:
        self.frames_received += 1
        if not self._closed and self._on_pcm is not None:
            self._on_pcm(pcm)

    def on_pcm(self, callback: Callable[[Pcm], None] | None) -> None:
        """``callback(frame)`` in the loop for every 10 ms frame heard from the peer."""
        self._on_pcm = callback

    async def _do(self, what: str, fut: Any) -> Any:
        try:
            return await fut
        except ntgcalls.BaseRTCException as exc:
            raise CallMediaFailed(reason=f"{what}: {exc}") from exc

    async def open(self) -> None:
        """Create the call with EXTERNAL audio in and out (no camera, no screen)."""
        audio = ntgcalls.AudioDescription(
            ntgcalls.MediaSource.EXTERNAL, self.sample_rate, 1, "", False
        )
        media = ntgcalls.MediaDescription(audio, None, None, None)
        await self._do("create", self._ntg.create_p2p_call(self.peer_id))
        await self._do(
            "capture",
            self._ntg.set_stream_sources(self.peer_id, ntgcalls.StreamMode.CAPTURE, media),
        )
        await self._do(
            "playback",
            self._ntg.set_stream_sources(self.peer_id, ntgcalls.StreamMode.PLAYBACK, media),
        )

    async def init_exchange(self, dh: DhConfig, g_a_hash: bytes | None) -> bytes:
        """Caller: returns g_a_hash (no argument). Callee: given g_a_hash, returns g_b."""
        config = ntgcalls.DhConfig(dh.g, dh.p, dh.random)
        return bytes(
            await self._do("init_exchange", self._ntg.init_exchange(self.peer_id, config, g_a_hash))
        )

    async def exchange_keys(self, g_a_or_b: bytes, fingerprint: int) -> tuple[bytes, int]:
        """Caller: (g_b, 0) -> (g_a, fingerprint). Callee: (g_a, fingerprint) -> checked."""
        auth = await self._do(
            "exchange_keys", self._ntg.exchange_keys(self.peer_id, g_a_or_b, fingerprint)
        )
        return bytes(auth.g_a_or_b), int(auth.key_fingerprint)

    async def connect(self, servers: Iterable[CallServer], p2p_allowed: bool) -> None:
        versions = ntgcalls.NTgCalls.get_protocol().library_versions
        rtc = [_rtc_server(s) for s in servers]
        await self._do(
            "connect", self._ntg.connect_p2p(self.peer_id, rtc, versions, p2p_allowed, None)
        )

    def receive_signaling(self, data: bytes) -> None:
        """A blob from the peer's library (it reaches ntgcalls in arrival order)."""
        if not self._closed:
            self._consume(self._ntg.send_signaling_data(self.peer_id, data), "signaling")

    def send_pcm(self, pcm: Pcm) -> None:
        """Queue int16 samples at ``sample_rate``; whole 10 ms frames go out, the rest waits."""
        if self._closed:
            return
        if self._pending.size:
            pcm = np.concatenate((self._pending, pcm))
        n = self._frame
        whole = pcm.size - pcm.size % n
        for start in range(0, whole, n):
            data = pcm[start : start + n].astype("<i2", copy=False).tobytes()
            fut = self._ntg.send_external_frame(
                self.peer_id, ntgcalls.StreamDevice.MICROPHONE, data, ntgcalls.FrameData()
            )
            self._consume(fut, "frame")
            self.frames_sent += 1
        self._pending = pcm[whole:].copy()

    def _consume(self, fut: Any, what: str) -> None:
        self._inflight.add(fut)

        def done(f: asyncio.Future[Any]) -> None:
            self._inflight.discard(f)
            if not f.cancelled() and f.exception() is not None and not self._closed:
                log.debug("ntgcalls %s failed: %s", what, f.exception())

        fut.add_done_callback(done)

    async def close(self) -> None:
        """Stop the call and drop the callbacks; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._inflight:  # frames still queued for the native side must land before stop()
            await asyncio.wait(list(self._inflight), timeout=2.0)
        with contextlib.suppress(ntgcalls.BaseRTCException):  # never connected, or gone
            await self._ntg.stop(self.peer_id)
        self._ntg = _Closed()  # the native instance goes once nothing refers to it
