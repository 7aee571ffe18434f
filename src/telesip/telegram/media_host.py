"""Each call's media in its own process: a crash inside ntgcalls ends that call, not the worker.

ntgcalls 3.0.5 shares one WebRTC factory among all the calls of a process, and that factory
rebuilds its list of video codecs, unlocked, each time a call makes an offer or a channel
(``VideoDecoderFactory::GetSupportedFormats``). Two calls negotiating at the same moment in one
process corrupted the heap about once in 150 on this machine and the process died; one call per
process never did in 600 calls (docs/calls.md). So ``HostedMedia`` — what ``TelegramLeg`` and the
fake's people use — runs one ``P2PMedia`` in a child process (``python -m
telesip.telegram.media_host PEER RATE``) and has the same methods. If the child dies, its call's
media fails (state ``failed``) and the waiting methods raise ``CallMediaFailed``; nothing else.

The wire, both ways over the child's stdin and stdout, is frames of a 4-byte big-endian length,
then one kind byte and the payload:

- ``C`` a request ``{"id", "op", "args"}`` (parent to child) or its answer ``{"id", "ok"}`` /
  ``{"id", "error"}``; JSON, the adapter's values as ``telegram.codec`` writes them
- ``P`` whole 10 ms frames of PCM, int16 little-endian at the call's rate: to send, or heard
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

from telesip.telegram.adapter import CallServer, DhConfig
from telesip.telegram.codec import decode, encode
from telesip.telegram.errors import CallMediaFailed
from telesip.telegram.p2p import MediaState, Pcm

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">IB")  # length of what follows (kind + payload), kind
_MAX_FRAME = 1 << 20
_STATES: frozenset[str] = frozenset({"connecting", "connected", "failed", "timeout", "closed"})
_CLOSE_TIMEOUT = 5.0  # seconds for the child to stop its call and exit before it is killed
_MAX_BUFFERED = 64 * 1024  # bytes of PCM waiting for a stuck child: newer frames are dropped


def _frame(kind: bytes, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload) + 1, kind[0]) + payload


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    length, kind = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if not 1 <= length <= _MAX_FRAME:
        raise ValueError(f"a frame of {length} bytes")
    return bytes([kind]), await reader.readexactly(length - 1)


def _exit_status(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    return f"exit code {code}"


class HostedMedia:
    """``P2PMedia``'s stand-in: the same methods, the ntgcalls instance in a child process."""

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
        self._frame_len = sample_rate // 100
        self._pcm_pending: Pcm = np.zeros(0, dtype=np.int16)
        self._on_state = on_state
        self._on_signaling = on_signaling
        self._on_pcm: Callable[[Pcm], None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._answers: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._gone: str | None = None  # why the child is gone, once it is
        self.frames_sent = 0
        self.frames_received = 0
        self.frames_dropped = 0

    def __repr__(self) -> str:
        pid = self._proc.pid if self._proc is not None else None
        return f"HostedMedia(peer={self.peer_id}, pid={pid}, gone={self._gone})"

    @property
    def pid(self) -> int | None:
        """The child's process id once started."""
        return self._proc.pid if self._proc is not None else None

    def on_pcm(self, callback: Callable[[Pcm], None] | None) -> None:
        """``callback(frame)`` in the loop for every 10 ms frame heard from the peer."""
        self._on_pcm = callback

    # -- the child

    async def _start(self) -> None:
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._spawn())
        await asyncio.shield(self._starting)

    async def _spawn(self) -> None:
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "telesip.telegram.media_host",
                str(self.peer_id),
                str(self.sample_rate),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_MAX_FRAME,
            )
        except OSError as exc:  # out of processes or memory
            self._gone = f"the call's media process could not start: {exc}"
            raise CallMediaFailed(reason=self._gone) from exc
        self._reader = asyncio.create_task(self._read(), name=f"media-host-{self.peer_id}")

    async def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        reason = "its output ended"
        try:
            while True:
                kind, payload = await _read_frame(self._proc.stdout)
                self._dispatch(kind, payload)
        except asyncio.IncompleteReadError:
            pass
        except (ValueError, KeyError, TypeError) as exc:  # not our child's wire: stop it
            reason = f"it broke the wire ({exc})"
            self._proc.kill()
        code = await self._proc.wait()
        self._lost(f"the call's media process ended: {reason}, {_exit_status(code)}")

    def _dispatch(self, kind: bytes, payload: bytes) -> None:
        if kind == b"P":  # one or more 10 ms frames
            pcm = np.frombuffer(payload, dtype="<i2")
            for start in range(0, pcm.size, self._frame_len):
                self.frames_received += 1
                if not self._closed and self._on_pcm is not None:
                    self._on_pcm(pcm[start : start + self._frame_len])
        elif kind == b"S":
            if not self._closed and self._on_signaling is not None:
                self._on_signaling(payload)
        elif kind == b"T":
            state = payload.decode("ascii")
            if state not in _STATES:
                raise ValueError(f"unknown state {state!r}")
            if not self._closed and self._on_state is not None:
                self._on_state(state)  # type: ignore[arg-type]
        elif kind == b"C":
            answer = json.loads(payload)
            fut = self._answers.pop(int(answer["id"]), None)
            if fut is None or fut.done():
                return
            if "error" in answer:
                fut.set_exception(CallMediaFailed(reason=str(answer["error"])))
            else:
                fut.set_result(decode(answer.get("ok")))
        else:
            raise ValueError(f"unknown frame kind {kind!r}")

    def _lost(self, reason: str) -> None:
        self._gone = reason
        for fut in self._answers.values():
            if not fut.done():
                fut.set_exception(CallMediaFailed(reason=reason))
        self._answers.clear()
        if not self._closed:
            log.warning("call to %s: %s", self.peer_id, reason)
            if self._on_state is not None:
                self._on_state("failed")

    def _send(self, kind: bytes, payload: bytes) -> bool:
        proc = self._proc
        if proc is None or proc.stdin is None or self._gone is not None:
            return False
        if proc.stdin.is_closing():
            return False
        proc.stdin.write(_frame(kind, payload))
        return True

    async def _request(self, op: str, *args: Any) -> Any:
        await self._start()
        if self._gone is not None:
            raise CallMediaFailed(reason=self._gone)
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._answers[rid] = fut
        message = {"id": rid, "op": op, "args": encode(list(args))}
        self._send(b"C", json.dumps(message, separators=(",", ":")).encode())
        try:
            return await fut
        finally:
            self._answers.pop(rid, None)

    # -- P2PMedia's methods

    async def open(self) -> None:
        """Start the child and create the call (EXTERNAL audio in and out)."""
        await self._request("open")

    async def init_exchange(self, dh: DhConfig, g_a_hash: bytes | None) -> bytes:
        """Caller: returns g_a_hash (no argument). Callee: given g_a_hash, returns g_b."""
        result: bytes = await self._request("init_exchange", dh, g_a_hash)
        return result

    async def exchange_keys(self, g_a_or_b: bytes, fingerprint: int) -> tuple[bytes, int]:
        """Caller: (g_b, 0) -> (g_a, fingerprint). Callee: (g_a, fingerprint) -> checked."""
        g, key_fingerprint = await self._request("exchange_keys", g_a_or_b, fingerprint)
        return bytes(g), int(key_fingerprint)

    async def connect(self, servers: Iterable[CallServer], p2p_allowed: bool) -> None:
        await self._request("connect", list(servers), p2p_allowed)

    def receive_signaling(self, data: bytes) -> None:
        """A blob from the peer's library (it reaches ntgcalls in arrival order)."""
        if not self._closed:
            self._send(b"S", data)

    def send_pcm(self, pcm: Pcm) -> None:
        """Queue int16 samples at ``sample_rate``; whole 10 ms frames go to the child in one
        write, the rest waits. What a stuck child has not read (over 64 KiB) is dropped."""
        if self._closed or self._proc is None or self._proc.stdin is None:
            return
        if self._pcm_pending.size:
            pcm = np.concatenate((self._pcm_pending, pcm))
        whole = pcm.size - pcm.size % self._frame_len
        frames = whole // self._frame_len
        if frames:
            if self._proc.stdin.transport.get_write_buffer_size() > _MAX_BUFFERED:
                self.frames_dropped += frames
            elif self._send(b"P", pcm[:whole].astype("<i2", copy=False).tobytes()):
                self.frames_sent += frames
        self._pcm_pending = pcm[whole:].copy()

    async def close(self) -> None:
        """Stop the call and let the child exit (killed after 5 s); safe to call twice."""
        if self._closed:
            if self._reader is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(self._reader)
            return
        self._closed = True
        if self._starting is None:
            return
        try:
            with contextlib.suppress(CallMediaFailed):  # it never started: nothing to stop
                await asyncio.shield(self._starting)
            if self._gone is None:
                with contextlib.suppress(CallMediaFailed, TimeoutError):
                    async with asyncio.timeout(_CLOSE_TIMEOUT):
                        await self._request("close")
        finally:
            await self._reap()

    async def _reap(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await proc.wait()
        except TimeoutError:
            log.warning("call to %s: media process %s did not exit, killed", self.peer_id, proc.pid)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader is not None:
            await self._reader


# -- the child


class _Host:
    """The child's side: one ``P2PMedia`` driven by the parent's frames. Everything it says
    goes out with blocking writes under one lock: from the loop (answers, states, signaling)
    and straight from ntgcalls' thread (heard frames, no hop into the loop)."""

    def __init__(self, peer_id: int, sample_rate: int, out: int) -> None:
        from telesip.telegram.p2p import P2PMedia

        self._out = out
        self._lock = threading.Lock()
        self._broken = False
        self.media = P2PMedia(
            peer_id,
            sample_rate=sample_rate,
            on_state=lambda state: self._send(b"T", state.encode("ascii")),
            on_signaling=lambda data: self._send(b"S", data),
        )
        self.media.pcm_out(lambda data: self._send(b"P", data))
        self._ops: dict[str, Callable[..., Awaitable[Any]]] = {
            "open": self.media.open,
            "init_exchange": self.media.init_exchange,
            "exchange_keys": self.media.exchange_keys,
            "connect": self.media.connect,
            "close": self.media.close,
        }

    def _send(self, kind: bytes, payload: bytes) -> None:
        data = memoryview(_frame(kind, payload))
        with self._lock:
            while data and not self._broken:
                try:
                    data = data[os.write(self._out, data) :]
                except BrokenPipeError:  # the parent is gone; stdin's end says so too
                    self._broken = True

    async def serve(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, payload = await _read_frame(reader)
                if kind == b"S":
                    self.media.receive_signaling(payload)
                elif kind == b"P":
                    self.media.send_pcm(np.frombuffer(payload, dtype="<i2"))
                elif kind == b"C":
                    if await self._answer(json.loads(payload)) == "close":
                        return
                else:
                    raise ValueError(f"unknown frame kind {kind!r}")
        except asyncio.IncompleteReadError:  # the parent is gone: end the call
            await self.media.close()

    async def _answer(self, request: dict[str, Any]) -> str:
        rid, op = request.get("id"), str(request.get("op"))
        method = self._ops.get(op)
        if method is None:
            reply: dict[str, Any] = {"id": rid, "error": f"no such operation: {op!r}"}
        else:
            try:
                reply = {"id": rid, "ok": encode(await method(*decode(request.get("args", []))))}
            except CallMediaFailed as exc:
                reply = {"id": rid, "error": exc.message}
            except Exception as exc:  # a bad request: say so, keep the call
                log.exception("media request %s failed", op)
                reply = {"id": rid, "error": f"{op}: {type(exc).__name__}"}
        self._send(b"C", json.dumps(reply, separators=(",", ":")).encode())
        return op


async def _serve(peer_id: int, sample_rate: int, wire_out: int) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_FRAME)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    host = _Host(peer_id, sample_rate, wire_out)
    try:
        await host.serve(reader)
    finally:
        os.close(wire_out)


class _InlineLoop(asyncio.SelectorEventLoop):
    """The child's loop runs what ntgcalls hands to ``run_in_executor`` at once, on its own
    thread: ntgcalls submits every method there (100 frames a second each way), and the hop to
    a pool thread and back cost more than the method. One thread also keeps the child's one
    call to one native method at a time by construction."""

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
    """``python -m telesip.telegram.media_host PEER_ID SAMPLE_RATE`` (started by HostedMedia)."""
    from telesip.logs import configure_logging

    wire_out = os.dup(1)  # the wire; fd 1 goes to stderr so that no stray output can reach it
    os.dup2(2, 1)
    configure_logging(
        os.environ.get("TELESIP_LOG_LEVEL", "INFO"),
        fmt=f"%(asctime)s %(levelname)s media[{argv[0]}] %(name)s: %(message)s",
    )
    with asyncio.Runner(loop_factory=_InlineLoop) as runner:
        runner.run(_serve(int(argv[0]), int(argv[1]), wire_out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
