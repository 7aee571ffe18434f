"""The calls' media in a child process: a crash inside ntgcalls ends calls, never the worker.

ntgcalls 3.0.5 shares one WebRTC factory among all the calls of a process, and that factory
rebuilds its list of video codecs, unlocked, each time a call makes an offer or a channel
(``VideoDecoderFactory::GetSupportedFormats``, run by one call's method on one thread and by
ntgcalls' worker thread for another call). Two calls negotiating at the same moment in one
process corrupted the heap about once in 100–250 calls on this machine and the process died;
one call per process never did in 600 calls (docs/calls.md). So:

- the calls' ntgcalls instances live in a child process (``MediaHost``: ``python -m
  telesip.calls.telegram.media_host``), never in the worker; if the child dies, its calls' media
  fail (state ``failed``, waiting methods raise ``CallMediaFailed``) and the next call starts
  a new child;
- inside the child, calls take turns to negotiate: one call at a time from ``connect`` until
  its media is connected (or over, or 3 s), which is when ntgcalls builds offers and
  channels. A process per call would need no turns, but each child runs ntgcalls' own threads
  (a network thread that wakes every millisecond): three times the CPU per call;
- ``HostedMedia`` is one call's handle, with ``P2PMedia``'s methods. ``TelegramLeg`` uses the
  shared host of its process (one per event loop and network namespace); the fake's people
  use a host each, since a person must never wait for a turn held by the call that rings it.

The wire, both ways over the child's stdin and stdout, is frames of a 4-byte big-endian length,
one kind byte, a 4-byte media id and the payload:

- ``C`` a request ``{"id", "op", "args"}`` (parent to child) or its answer ``{"id", "ok"}`` /
  ``{"id", "error"}``; JSON, the adapter's values as ``telegram.codec`` writes them
- ``P`` PCM, int16 little-endian at the call's rate: to send, or heard (whole 10 ms frames)
- ``S`` a signaling blob: from the peer (to the child), or for the peer (from it)
- ``T`` the media's state (from the child), ASCII

The child answers requests in order and handles ``S`` and ``P`` in order with them. Nothing
else is written on its stdout: it points fd 1 at stderr before ntgcalls loads, and keeps a
copy of the original for the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import struct
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import numpy as np

from telesip.calls.telegram.adapter import CallServer, DhConfig
from telesip.calls.telegram.codec import decode, encode
from telesip.calls.telegram.errors import CallMediaFailed
from telesip.calls.telegram.p2p import MediaState, Pcm

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">IBI")  # length of what follows the length, kind, media id
_MAX_FRAME = 1 << 20
_STATES: frozenset[str] = frozenset({"connecting", "connected", "failed", "timeout", "closed"})
_SETTLED: frozenset[str] = frozenset({"connected", "failed", "timeout", "closed"})
_TURN = 3.0  # seconds a call may hold the negotiation turn (offers and channels take ms)
_CLOSE_TIMEOUT = 5.0  # seconds for the child to stop a call, or to exit, before it is killed
_MAX_BUFFERED = 256 * 1024  # bytes waiting for a stuck child: newer PCM is dropped


def _frame(kind: bytes, media_id: int, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload) + 5, kind[0], media_id) + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes]:
    length, kind, media_id = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if not 5 <= length <= _MAX_FRAME:
        raise ValueError(f"a frame of {length} bytes")
    return bytes([kind]), media_id, await reader.readexactly(length - 5)


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
                limit=_MAX_FRAME,
            )
        except OSError as exc:  # out of processes or memory
            self._lost(f"the calls' media process could not start: {exc}")
            raise CallMediaFailed(reason=str(self._gone)) from exc
        self._reader = asyncio.create_task(self._read(), name=f"media-host-{self._proc.pid}")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        reason = "its output ended"
        try:
            while True:
                kind, media_id, payload = await _read_frame(self._proc.stdout)
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
            if state not in _STATES:
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
        proc.stdin.write(_frame(kind, media_id, payload))
        return True

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
        self._frame_len = sample_rate // 100
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
        """``callback(frame)`` in the loop for every 10 ms frame heard from the peer."""
        self._on_pcm = callback

    # -- from the host

    def _heard(self, payload: bytes) -> None:
        pcm = np.frombuffer(payload, dtype="<i2")
        if self._closed or self._on_pcm is None:
            return
        for start in range(0, pcm.size, self._frame_len):
            self._on_pcm(pcm[start : start + self._frame_len])

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


# -- the child


class _Host:
    """The child's side: the calls' ``P2PMedia`` driven by the parent's frames. Everything it
    says goes out with blocking writes under one lock: from the loop (answers, states,
    signaling) and straight from ntgcalls' threads (heard frames, no hop into the loop)."""

    def __init__(self, out: int, *, turns: bool) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._broken = False
        self.media: dict[int, Any] = {}  # media id -> P2PMedia
        self._settled: dict[int, asyncio.Event] = {}
        self._turn = asyncio.Lock() if turns else None
        self._holding: set[asyncio.Task[None]] = set()
        self._inbox: dict[int, asyncio.Queue[tuple[bytes, bytes]]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._done: set[int] = set()  # calls closed (their ids are never used again)
        self._busy: set[int] = set()  # calls whose worker is answering a request
        self._ops: dict[str, Callable[..., Awaitable[Any]]] = {
            "open": self._open,
            "init_exchange": lambda mid, *a: self.media[mid].init_exchange(*a),
            "exchange_keys": lambda mid, *a: self.media[mid].exchange_keys(*a),
            "connect": self._connect,
            "close": self._close,
        }

    def _send(self, kind: bytes, media_id: int, payload: bytes) -> None:
        data = memoryview(_frame(kind, media_id, payload))
        with self._lock:
            while data and not self._broken:
                try:
                    data = data[os.write(self._out, data) :]
                except BrokenPipeError:  # the parent is gone; stdin's end says so too
                    self._broken = True

    async def _open(self, mid: int, peer_id: int, sample_rate: int) -> None:
        from telesip.calls.telegram.p2p import P2PMedia

        if mid in self.media:
            raise ValueError(f"media {mid} is open already")
        settled = self._settled[mid] = asyncio.Event()

        def on_state(state: MediaState) -> None:
            if state in _SETTLED:
                settled.set()
            self._send(b"T", mid, state.encode("ascii"))

        media = self.media[mid] = P2PMedia(
            peer_id,
            sample_rate=sample_rate,
            on_state=on_state,
            on_signaling=lambda data: self._send(b"S", mid, data),
        )
        media.pcm_out(lambda data: self._send(b"P", mid, data))
        await media.open()

    async def _connect(self, mid: int, servers: Any, p2p_allowed: bool) -> None:
        media, settled = self.media[mid], self._settled[mid]
        if self._turn is None:
            await media.connect(servers, p2p_allowed)
            return
        await self._turn.acquire()
        try:
            await media.connect(servers, p2p_allowed)
        except BaseException:
            self._turn.release()
            raise
        task = asyncio.create_task(self._hold_turn(settled), name=f"media-turn-{mid}")
        self._holding.add(task)
        task.add_done_callback(self._holding.discard)

    async def _hold_turn(self, settled: asyncio.Event) -> None:
        assert self._turn is not None
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TURN):
                    await settled.wait()
        finally:
            self._turn.release()

    async def _close(self, mid: int) -> None:
        media = self.media.pop(mid, None)
        if (settled := self._settled.pop(mid, None)) is not None:
            settled.set()  # a turn it holds passes on
        if media is not None:
            await media.close()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Frames go to their call's inbox: each call's requests, signaling and PCM are handled
        in order, and one call waiting for its turn to negotiate holds up no other."""
        try:
            while True:
                kind, mid, payload = await _read_frame(reader)
                if kind not in (b"C", b"S", b"P"):
                    raise ValueError(f"unknown frame kind {kind!r}")
                if mid in self._done:
                    continue  # a closed call's late frames
                inbox = self._inbox.get(mid)
                if kind != b"C" and mid not in self._busy and (inbox is None or inbox.empty()):
                    self._take(mid, kind, payload)  # nothing of this call waits: at once
                    continue
                if inbox is None:
                    inbox = self._inbox[mid] = asyncio.Queue()
                    self._workers[mid] = asyncio.create_task(self._work(mid, inbox))
                inbox.put_nowait((kind, payload))
        except asyncio.IncompleteReadError:  # the parent is done with us (or gone)
            pass
        finally:
            for task in list(self._workers.values()):
                task.cancel()
            for mid in list(self.media):
                await self._close(mid)

    def _take(self, mid: int, kind: bytes, payload: bytes) -> None:
        if (media := self.media.get(mid)) is None:
            return
        if kind == b"S":
            media.receive_signaling(payload)
        else:
            media.send_pcm(np.frombuffer(payload, dtype="<i2"))

    async def _work(self, mid: int, inbox: asyncio.Queue[tuple[bytes, bytes]]) -> None:
        try:
            while True:
                kind, payload = await inbox.get()
                if kind != b"C":
                    self._take(mid, kind, payload)
                    continue
                self._busy.add(mid)
                try:
                    if await self._answer(mid, json.loads(payload)) == "close":
                        return
                finally:
                    self._busy.discard(mid)
        finally:
            self._done.add(mid)
            self._inbox.pop(mid, None)
            self._workers.pop(mid, None)

    async def _answer(self, mid: int, request: dict[str, Any]) -> str:
        rid, op = request.get("id"), str(request.get("op"))
        method = self._ops.get(op)
        if method is None:
            reply: dict[str, Any] = {"id": rid, "error": f"no such operation: {op!r}"}
        else:
            try:
                result = await method(mid, *decode(request.get("args", [])))
                reply = {"id": rid, "ok": encode(result)}
            except CallMediaFailed as exc:
                reply = {"id": rid, "error": exc.message}
            except Exception as exc:  # a bad request: say so, keep the calls
                log.warning("media request %s failed: %r", op, exc)
                reply = {"id": rid, "error": f"{op}: {type(exc).__name__}"}
        self._send(b"C", mid, json.dumps(reply, separators=(",", ":")).encode())
        return op


async def _serve(wire_out: int, *, turns: bool) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    host = _Host(wire_out, turns=turns)
    try:
        await host.serve(reader)
    finally:
        os.close(wire_out)


class _InlineLoop(asyncio.SelectorEventLoop):
    """The child's loop runs what ntgcalls hands to ``run_in_executor`` at once, on its own
    thread: ntgcalls submits every method there (100 frames a second each way per call), and
    the hop to a pool thread and back cost more than the method. One thread also runs one
    native method at a time by construction."""

    def run_in_executor(  # type: ignore[override]  # the same call, typed loosely
        self, executor: Any, func: Callable[..., Any], *args: Any
    ) -> Any:
        fut = self.create_future()
        try:
            fut.set_result(func(*args))
        except BaseException as exc:  # the method's error, as the pool would give it
            fut.set_exception(exc)
        return fut


def main(argv: list[str]) -> int:
    """``python -m telesip.calls.telegram.media_host --turns|--solo`` (started by MediaHost)."""
    from telesip.logs import configure_logging

    wire_out = os.dup(1)  # the wire; fd 1 goes to stderr so that no stray output can reach it
    os.dup2(2, 1)
    configure_logging(
        os.environ.get("TELESIP_LOG_LEVEL", "INFO"),
        fmt=f"%(asctime)s %(levelname)s media[{os.getpid()}] %(name)s%(ids)s: %(message)s",
        style=os.environ.get("TELESIP_LOG_FORMAT", "text"),
    )
    with asyncio.Runner(loop_factory=_InlineLoop) as runner:
        runner.run(_serve(wire_out, turns="--solo" not in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
