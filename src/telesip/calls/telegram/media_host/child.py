"""The child's side of the media host: the calls' ``P2PMedia`` driven by the parent's frames
(``framing``), on a loop that runs ntgcalls' methods inline. Started by ``MediaHost`` as
``python -m telesip.calls.telegram.media_host --turns|--solo``; with ``--turns`` its calls take
turns to negotiate (the package's docstring says why)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from telesip.calls.telegram.codec import decode, encode
from telesip.calls.telegram.errors import CallMediaFailed
from telesip.calls.telegram.p2p import MediaState

from .framing import MAX_FRAME, SETTLED, FrameReader, frame

log = logging.getLogger(__name__)

_TURN = 3.0  # seconds a call may hold the negotiation turn (offers and channels take ms)


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
        self._negotiation_turn = asyncio.Lock() if turns else None
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
        data = memoryview(frame(kind, media_id, payload))
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
            if state in SETTLED:
                settled.set()
            self._send(b"T", mid, state.encode("ascii"))

        media = self.media[mid] = P2PMedia(
            peer_id,
            sample_rate=sample_rate,
            on_state=on_state,
            on_signaling=lambda data: self._send(b"S", mid, data),
        )
        media.pcm_out(_Batch(lambda data: self._send(b"P", mid, data), sample_rate // 50 * 2))
        await media.open()

    async def _connect(self, mid: int, servers: Any, p2p_allowed: bool) -> None:
        media, settled = self.media[mid], self._settled[mid]
        if self._negotiation_turn is None:
            await media.connect(servers, p2p_allowed)
            return
        await self._negotiation_turn.acquire()
        try:
            await media.connect(servers, p2p_allowed)
        except BaseException:
            self._negotiation_turn.release()
            raise
        task = asyncio.create_task(self._hold_turn(settled), name=f"media-turn-{mid}")
        self._holding.add(task)
        task.add_done_callback(self._holding.discard)

    async def _hold_turn(self, settled: asyncio.Event) -> None:
        assert self._negotiation_turn is not None
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_TURN):
                    await settled.wait()
        finally:
            self._negotiation_turn.release()

    async def _close(self, mid: int) -> None:
        media = self.media.pop(mid, None)
        if (settled := self._settled.pop(mid, None)) is not None:
            settled.set()  # a turn it holds passes on
        if media is not None:
            await media.close()

    async def serve(self, reader: asyncio.StreamReader) -> None:
        """Frames go to their call's inbox: each call's requests, signaling and PCM are handled
        in order, and one call waiting for its turn to negotiate holds up no other."""
        wire = FrameReader(reader)
        try:
            while True:
                for kind, mid, payload in await wire.frames():
                    self._route(kind, mid, payload)
        except asyncio.IncompleteReadError:  # the parent is done with us (or gone)
            pass
        finally:
            for task in list(self._workers.values()):
                task.cancel()
            for mid in list(self.media):
                await self._close(mid)

    def _route(self, kind: bytes, mid: int, payload: bytes) -> None:
        if kind not in (b"C", b"S", b"P"):
            raise ValueError(f"unknown frame kind {kind!r}")
        if mid in self._done:
            return  # a closed call's late frames
        inbox = self._inbox.get(mid)
        if kind != b"C" and mid not in self._busy and (inbox is None or inbox.empty()):
            self._take(mid, kind, payload)  # nothing of this call waits: at once
            return
        if inbox is None:
            inbox = self._inbox[mid] = asyncio.Queue()
            self._workers[mid] = asyncio.create_task(self._work(mid, inbox))
        inbox.put_nowait((kind, payload))

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


class _Batch:
    """Heard audio goes to the parent 20 ms at a time (ntgcalls gives 10 ms frames): half the
    writes here and half the reads, callbacks and copies in the worker. It costs no latency at
    the usual ptime of 20 ms: the RTP stream waits for a packet's second 10 ms all the same.
    Called on ntgcalls' thread for one call only, so its state needs no lock."""

    def __init__(self, write: Callable[[bytes], None], size: int) -> None:
        self._write = write
        self._size = size  # bytes of 20 ms
        self._held = b""

    def __call__(self, data: bytes) -> None:
        held = self._held + data if self._held else data
        if len(held) >= self._size:
            self._held = b""
            self._write(held)
        else:
            self._held = held


async def _serve(wire_out: int, *, turns: bool) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_FRAME)
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
    """The child's entry point (``__main__``: ``python -m telesip.calls.telegram.media_host``)."""
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
