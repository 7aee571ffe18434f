"""One private call's media: an ntgcalls instance with EXTERNAL PCM in and out.

It runs in the calls' media process (``media_host.py``; ``TelegramLeg`` and the fake's people
reach it through ``HostedMedia``), and in the calls benchmark's process of fake people.
Rules: every ntgcalls method is called on the event loop's thread (they return asyncio
futures); ntgcalls calls back on its own native threads, and those callbacks only copy the data
and hop into the loop with ``call_soon_threadsafe`` — they never touch an asyncio object.

ntgcalls runs each method on the loop's executor (inline in the media process) with a bare
pointer to the call, unlocked, and frees the call when it is stopped or when its connection
closes, fails or times out. Two methods at once on one call, or one running as the call is
freed, corrupt the heap (the test suite crashed that way). So each instance runs one native
method at a time, in the order they were asked for (signaling blobs in arrival order, frames
in sequence), and when ntgcalls says the connection is over its thread waits for the running
method to return before it frees the call, while no new one may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Literal

import ntgcalls
import numpy as np
import numpy.typing as npt

from telesip.calls.telegram.adapter import CallProtocol, CallServer, DhConfig
from telesip.calls.telegram.errors import CallMediaFailed

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


_ENDED = frozenset({"failed", "timeout", "closed"})  # ntgcalls frees the call after these
MAX_QUEUED_FRAMES = 20  # 200 ms of audio waiting for the native side; newer frames are dropped
_GATE_WAIT = 2.0  # seconds ntgcalls' thread waits for a running method before freeing the call


def _call(ref: weakref.ref[P2PMedia], method: str, *args: Any) -> None:
    media = ref()
    if media is not None:
        getattr(media, method)(*args)


class _Op:
    """One native method waiting for its turn; ``result`` gets its outcome (None: not awaited)."""

    __slots__ = ("args", "name", "result", "what")

    def __init__(
        self, what: str, name: str, args: tuple[Any, ...], result: asyncio.Future[Any] | None
    ) -> None:
        self.what = what
        self.name = name
        self.args = args
        self.result = result


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
        self._pcm_out: Callable[[bytes], None] | None = None  # heard frames, on ntgcalls' thread
        self._loop = asyncio.get_running_loop()
        self._ntg: Any = ntgcalls.NTgCalls()
        self._closed = False
        # One native method at a time (see the module's docstring). ``_gate`` orders "may a
        # method start" (loop thread) against "the call is being freed" (ntgcalls' thread).
        self._queue: deque[_Op] = deque()
        self._queued_frames = 0
        self._running: _Op | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._gate = threading.Lock()
        self._freed = False  # ntgcalls has freed (or is freeing) the call: no method may start
        self._drained = asyncio.Event()  # closed, and the last native method has returned
        self.frames_sent = 0
        self.frames_received = 0
        self.frames_dropped = 0
        # The native side holds its callbacks where Python's collector cannot see them: they
        # hold this object weakly, so dropping it drops the native instance (no hidden cycle).
        ref = weakref.ref(self)
        self._ntg.on_signaling_data(lambda _p, data: _call(ref, "_native_signaling", data))
        self._ntg.on_connection_change(lambda _p, info: _call(ref, "_native_connection", info))
        self._ntg.on_frames(lambda _p, mode, _d, frames: _call(ref, "_native_frames", mode, frames))

    # -- native threads: copy, hop, nothing else (but for the gate below)

    def _hop(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # a closed loop: the call is long over
            self._loop.call_soon_threadsafe(fn, *args)

    def _native_signaling(self, data: bytes) -> None:
        self._hop(self._deliver_signaling, bytes(data))

    def _native_connection(self, info: Any) -> None:
        if info.kind != ntgcalls.ConnectionKind.NORMAL:
            return
        state = _STATES.get(info.state, "failed")
        self._hop(self._deliver_state, state)
        if state in _ENDED:  # ntgcalls frees the call as soon as this callback returns
            locked = self._gate.acquire(timeout=_GATE_WAIT)  # held while a method starts
            self._freed = True
            if locked:
                self._gate.release()
            if not self._idle.wait(_GATE_WAIT):
                log.warning("ntgcalls frees call %s with a method still running", self.peer_id)

    def _native_frames(self, mode: Any, frames: Any) -> None:
        if mode != ntgcalls.StreamMode.PLAYBACK:
            return
        if (out := self._pcm_out) is not None:
            out(b"".join(bytes(frame.data) for frame in frames))
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

    def pcm_out(self, write: Callable[[bytes], None]) -> None:
        """Instead of ``on_pcm``: ``write(frames)`` on ntgcalls' own thread with the heard 10 ms
        frames (int16 little-endian, one or more), without the hop into the loop; for the
        media process, which writes them straight to its parent. ``write`` must be quick and
        thread-safe."""
        self._pcm_out = write

    # -- the native methods, one at a time

    def _submit(self, what: str, name: str, *args: Any, awaited: bool = True) -> Any:
        """Queue ``ntgcalls.<name>(*args)``; returns a future of its result when ``awaited``."""
        result = self._loop.create_future() if awaited else None
        self._queue.append(_Op(what, name, args, result))
        if self._running is None:
            self._next()
        return result

    def _next(self) -> None:
        while self._queue and self._running is None:
            op = self._queue.popleft()
            if op.what == "frame":
                self._queued_frames -= 1
            if op.result is not None and op.result.cancelled():
                continue
            fut: Any = None
            error: BaseException | None = None
            with self._gate:
                if self._freed or self._ntg is None:
                    error = CallMediaFailed(reason=f"{op.what}: the call is over")
                else:
                    self._idle.clear()
                    try:
                        fut = getattr(self._ntg, op.name)(self.peer_id, *op.args)
                    except Exception as exc:  # refused before it ran (bad arguments)
                        self._idle.set()
                        error = exc
            if error is not None:
                self._settle(op, error)
                continue
            self._running = op
            if fut.done():  # the loop ran it at once (the media process's loop does)
                self._complete(fut)
                continue
            fut.add_done_callback(self._finished)
        if self._closed and self._running is None and not self._queue:
            self._ntg = None  # the native instance goes once nothing refers to it
            self._drained.set()

    def _finished(self, fut: asyncio.Future[Any]) -> None:
        self._complete(fut)
        self._next()

    def _complete(self, fut: asyncio.Future[Any]) -> None:
        op, self._running = self._running, None
        self._idle.set()
        assert op is not None
        exc = None if fut.cancelled() else fut.exception()
        if exc is None:
            if op.result is not None and not op.result.done():
                op.result.set_result(fut.result())
        elif isinstance(exc, ntgcalls.BaseRTCException):
            self._settle(op, CallMediaFailed(reason=f"{op.what}: {exc}"))
        else:
            self._settle(op, exc)

    def _settle(self, op: _Op, error: BaseException) -> None:
        if op.result is None:
            if not self._closed:
                log.debug("ntgcalls %s failed: %s", op.what, error)
        elif not op.result.done():
            op.result.set_exception(error)

    async def _do(self, what: str, name: str, *args: Any) -> Any:
        return await self._submit(what, name, *args)

    async def open(self) -> None:
        """Create the call with EXTERNAL audio in and out (no camera, no screen)."""
        audio = ntgcalls.AudioDescription(
            ntgcalls.MediaSource.EXTERNAL, self.sample_rate, 1, "", False
        )
        media = ntgcalls.MediaDescription(audio, None, None, None)
        await self._do("create", "create_p2p_call")
        await self._do("capture", "set_stream_sources", ntgcalls.StreamMode.CAPTURE, media)
        await self._do("playback", "set_stream_sources", ntgcalls.StreamMode.PLAYBACK, media)

    async def init_exchange(self, dh: DhConfig, g_a_hash: bytes | None) -> bytes:
        """Caller: returns g_a_hash (no argument). Callee: given g_a_hash, returns g_b."""
        config = ntgcalls.DhConfig(dh.g, dh.p, dh.random)
        return bytes(await self._do("init_exchange", "init_exchange", config, g_a_hash))

    async def exchange_keys(self, g_a_or_b: bytes, fingerprint: int) -> tuple[bytes, int]:
        """Caller: (g_b, 0) -> (g_a, fingerprint). Callee: (g_a, fingerprint) -> checked."""
        auth = await self._do("exchange_keys", "exchange_keys", g_a_or_b, fingerprint)
        return bytes(auth.g_a_or_b), int(auth.key_fingerprint)

    async def connect(self, servers: Iterable[CallServer], p2p_allowed: bool) -> None:
        versions = ntgcalls.NTgCalls.get_protocol().library_versions
        rtc = [_rtc_server(s) for s in servers]
        await self._do("connect", "connect_p2p", rtc, versions, p2p_allowed, None)

    def receive_signaling(self, data: bytes) -> None:
        """A blob from the peer's library (it reaches ntgcalls in arrival order)."""
        if not self._closed:
            self._submit("signaling", "send_signaling_data", data, awaited=False)

    def send_pcm(self, pcm: Pcm) -> None:
        """Queue int16 samples at ``sample_rate``; whole 10 ms frames go out, the rest waits.
        Frames the native side cannot take in time (over ``MAX_QUEUED_FRAMES``) are dropped."""
        if self._closed:
            return
        if self._pending.size:
            pcm = np.concatenate((self._pending, pcm))
        n = self._frame
        whole = pcm.size - pcm.size % n
        for start in range(0, whole, n):
            if self._queued_frames >= MAX_QUEUED_FRAMES:
                self.frames_dropped += 1
                continue
            data = pcm[start : start + n].astype("<i2", copy=False).tobytes()
            self._queued_frames += 1
            self._submit(
                "frame",
                "send_external_frame",
                ntgcalls.StreamDevice.MICROPHONE,
                data,
                ntgcalls.FrameData(),
                awaited=False,
            )
            self.frames_sent += 1
        self._pending = pcm[whole:].copy()

    async def close(self) -> None:
        """Stop the call after what is queued (frames, signaling) and let the native instance
        go; safe to call twice, and to cancel (the stop happens all the same)."""
        if not self._closed:
            self._closed = True
            self._submit("stop", "stop", awaited=False)
        await self._drained.wait()
