"""The parent's side of the media host, in the worker: ``MediaHost`` starts and watches the
child process (``child``), and ``HostedMedia`` is one call's handle in it, with ``P2PMedia``'s
methods, talking over the wire of ``framing``. If the child dies, its calls' media fail (state
``failed``, waiting methods raise ``CallMediaFailed``, the log names the signal) and the next
call starts a new child."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from telesip.calls.telegram.adapter import CallServer, DhConfig
from telesip.calls.telegram.codec import decode, encode
from telesip.calls.telegram.errors import CallMediaFailed
from telesip.calls.telegram.p2p import MediaState, Pcm

from .framing import MAX_FRAME, STATES, FrameReader, frame

log = logging.getLogger(__name__)

_CLOSE_TIMEOUT = 5.0  # seconds for the child to stop a call, or to exit, before it is killed
_MAX_BUFFERED = 256 * 1024  # bytes waiting for a stuck child: newer PCM is dropped


def _exit_status(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


_SHARED: dict[tuple[int, int], MediaHost] = {}  # (event loop, network namespace) -> its host


def _netns() -> int:
    """The network namespace this thread is in (a host started here serves calls here)."""
    try:
        return os.stat("/proc/thread-self/ns/net").st_ino
    except OSError:
        return 0


class MediaHost:
    """A child process holding the ntgcalls instances of any number of calls."""

    def __init__(self, *, solo: bool = False) -> None:
        self.solo = solo  # one call, then the child exits
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._media: dict[int, HostedMedia] = {}
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._media_ids = itertools.count(1)
        self._gone: str | None = None
        self._key: tuple[int, int] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._out: list[bytes] = []  # frames for the child, written once per loop iteration

    def __repr__(self) -> str:
        return f"MediaHost(pid={self.pid}, calls={len(self._media)}, gone={self._gone})"

    @classmethod
    def shared(cls) -> MediaHost:
        """This event loop's host for this network namespace (a new one once it is gone)."""
        loop = asyncio.get_running_loop()
        key = (id(loop), _netns())
        host = _SHARED.get(key)
        if host is None or host._gone is not None or host._loop is not loop:
            host = _SHARED[key] = cls()
            host._key, host._loop = key, loop
        return host

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def calls(self) -> int:
        return len(self._media)

    async def start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._spawn())
        await asyncio.shield(self._starting)

    async def _spawn(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "telesip.calls.telegram.media_host",
                "--solo" if self.solo else "--turns",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=MAX_FRAME,
            )
        except OSError as exc:  # out of processes or memory
            self._lost(f"the calls' media process could not start: {exc}")
            raise CallMediaFailed(reason=str(self._gone)) from exc
        self._reader = asyncio.create_task(self._read(), name=f"media-host-{self._proc.pid}")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        reason = "its output ended"
        wire = FrameReader(self._proc.stdout)
        try:
            while True:
                for kind, media_id, payload in await wire.frames():
                    self._dispatch(kind, media_id, payload)
        except asyncio.IncompleteReadError:
            pass
        except (ValueError, KeyError, TypeError) as exc:  # not our child's wire: stop it
            reason = f"it broke the wire ({exc})"
            self._proc.kill()
        code = await self._proc.wait()
        self._lost(f"the calls' media process ended: {reason}, {_exit_status(code)}")

    def _dispatch(self, kind: bytes, media_id: int, payload: bytes) -> None:
        if kind == b"C":
            answer = json.loads(payload)
            fut = self._answers.pop(int(answer["id"]), None)
            if fut is None or fut.done():
                return
            if "error" in answer:
                fut.set_exception(CallMediaFailed(reason=str(answer["error"])))
            else:
                fut.set_result(decode(answer.get("ok")))
            return
        media = self._media.get(media_id)
        if media is None:
            return  # a call closed meanwhile
        if kind == b"P":
            media._heard(payload)
        elif kind == b"S":
            media._signaling(payload)
        elif kind == b"T":
            state = payload.decode("ascii")
            if state not in STATES:
                raise ValueError(f"unknown state {state!r}")
            media._state(state)  # type: ignore[arg-type]
        else:
            raise ValueError(f"unknown frame kind {kind!r}")

    def _lost(self, reason: str) -> None:
        self._gone = reason
        if self._key is not None and _SHARED.get(self._key) is self:
            del _SHARED[self._key]
        for fut in self._answers.values():
            if not fut.done():
                fut.set_exception(CallMediaFailed(reason=reason))
        self._answers.clear()
        for media in list(self._media.values()):
            media._lost(reason)

    def send(self, kind: bytes, media_id: int, payload: bytes, *, droppable: bool = False) -> bool:
        proc = self._proc
        if proc is None or proc.stdin is None or self._gone is not None:
            return False
        if proc.stdin.is_closing():
            return False
        if droppable and proc.stdin.transport.get_write_buffer_size() > _MAX_BUFFERED:
            return False
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(frame(kind, media_id, payload))
        return True

    def _flush(self) -> None:
        """One write for what every call said since the last: the playout clock's tick hands
        each call's 20 ms over one after another, and they go to the child together."""
        out, self._out = self._out, []
        proc = self._proc
        if out and proc is not None and proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.write(b"".join(out))

    async def request(self, media_id: int, op: str, *args: Any) -> Any:
        await self.start()
        if self._gone is not None:
            raise CallMediaFailed(reason=self._gone)
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[rid] = fut
        message = {"id": rid, "op": op, "args": encode(list(args))}
        self.send(b"C", media_id, json.dumps(message, separators=(",", ":")).encode())
        try:
            return await fut
        finally:
            self._answers.pop(rid, None)

    def attach(self, media: HostedMedia) -> int:
        media_id = next(self._media_ids)
        self._media[media_id] = media
        return media_id

    async def detach(self, media_id: int) -> None:
        """The call is over; the last call of a host ends its child."""
        self._media.pop(media_id, None)
        if not self._media:
            await self.close()

    async def close(self) -> None:
        """End the child (killed after 5 s); its calls' media fail."""
        if self._key is not None and _SHARED.get(self._key) is self:
            del _SHARED[self._key]
        if self._starting is not None:  # a child still starting is ended too
            with contextlib.suppress(CallMediaFailed):
                await asyncio.shield(self._starting)
        proc = self._proc
        if proc is None:
            return
        self._flush()
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            log.warning("media process %s did not exit, killed", proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader


class HostedMedia:
    """One call's media in a ``MediaHost``, with ``P2PMedia``'s methods."""

    def __init__(
        self,
        peer_id: int,
        *,
        sample_rate: int = 8000,
        on_state: Callable[[MediaState], None] | None = None,
        on_signaling: Callable[[bytes], None] | None = None,
        host: MediaHost | None = None,
    ) -> None:
        self.peer_id = peer_id
        self.sample_rate = sample_rate
        self.host = host if host is not None else MediaHost.shared()
        self._id = self.host.attach(self)
        self._on_state = on_state
        self._on_signaling = on_signaling
        self._on_pcm: Callable[[Pcm], None] | None = None
        self._closed = False
        self._closing: asyncio.Future[None] | None = None
        self._gone: str | None = None

    @classmethod
    def solo(cls, peer_id: int, **kwargs: Any) -> HostedMedia:
        """A call with a child process of its own."""
        return cls(peer_id, host=MediaHost(solo=True), **kwargs)

    def __repr__(self) -> str:
        return f"HostedMedia(peer={self.peer_id}, host={self.host!r})"

    @property
    def pid(self) -> int | None:
        """The process id of the child that holds this call."""
        return self.host.pid

    def on_pcm(self, callback: Callable[[Pcm], None] | None) -> None:
        """``callback(pcm)`` in the loop with the audio heard from the peer, whole 10 ms
        frames as the host sends them (20 ms at a time: ``child._Batch``)."""
        self._on_pcm = callback

    # -- from the host

    def _heard(self, payload: bytes) -> None:
        if not self._closed and self._on_pcm is not None:
            self._on_pcm(np.frombuffer(payload, dtype="<i2"))

    def _signaling(self, data: bytes) -> None:
        if not self._closed and self._on_signaling is not None:
            self._on_signaling(data)

    def _state(self, state: MediaState) -> None:
        if not self._closed and self._on_state is not None:
            self._on_state(state)

    def _lost(self, reason: str) -> None:
        self._gone = reason
        if not self._closed:
            log.warning("call to %s: %s", self.peer_id, reason)
            self._state("failed")

    async def _request(self, op: str, *args: Any) -> Any:
        if self._gone is not None:
            raise CallMediaFailed(reason=self._gone)
        return await self.host.request(self._id, op, *args)

    # -- P2PMedia's methods

    async def open(self) -> None:
        """Create the call in the host (started if need be), EXTERNAL audio in and out."""
        await self._request("open", self.peer_id, self.sample_rate)

    async def init_exchange(self, dh: DhConfig, g_a_hash: bytes | None) -> bytes:
        """Caller: returns g_a_hash (no argument). Callee: given g_a_hash, returns g_b."""
        result: bytes = await self._request("init_exchange", dh, g_a_hash)
        return result

    async def exchange_keys(self, g_a_or_b: bytes, fingerprint: int) -> tuple[bytes, int]:
        """Caller: (g_b, 0) -> (g_a, fingerprint). Callee: (g_a, fingerprint) -> checked."""
        g, key_fingerprint = await self._request("exchange_keys", g_a_or_b, fingerprint)
        return bytes(g), int(key_fingerprint)

    async def connect(self, servers: Iterable[CallServer], p2p_allowed: bool) -> None:
        """Connect once it is this call's turn to negotiate in its host."""
        await self._request("connect", list(servers), p2p_allowed)

    def receive_signaling(self, data: bytes) -> None:
        """A blob from the peer's library (it reaches ntgcalls in arrival order)."""
        if not self._closed:
            self.host.send(b"S", self._id, data)

    def send_pcm(self, pcm: Pcm) -> None:
        """int16 samples at ``sample_rate`` to the host in one write (its ``P2PMedia`` cuts
        them into 10 ms frames and keeps the rest). Dropped while a stuck host has 256 KiB
        unread."""
        if not self._closed:
            self.host.send(b"P", self._id, pcm.astype("<i2", copy=False).tobytes(), droppable=True)

    async def close(self) -> None:
        """Stop the call in the host and let it go; safe to call twice, and to cancel."""
        if self._closing is None:
            self._closed = True
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        try:
            if self._gone is None and self.host.pid is not None:
                with contextlib.suppress(CallMediaFailed, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await self.host.request(self._id, "close")
        finally:
            await self.host.detach(self._id)
