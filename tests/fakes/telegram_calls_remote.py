"""A test double: ``FakeTelegram`` across a process boundary, its accounts served on a socket,
and a client that is a ``TelegramCalls`` in another process. Never used by telesip itself.

The calls benchmark runs the remote people (each with its own ntgcalls) in one process and the
worker, whose caller accounts call them, in another, so that each side's CPU is counted apart.

    server = await FakeTelegramServer.start(tg, host="127.0.1.2", port=0)   # peers' process
    calls = await FakeTelegramClient.connect(TgUser(100, "Telesip"), host=..., port=server.port)

The wire is one JSON object per line, one connection per account. The client says who it is
(``hello``), then sends requests ``{"id", "call", "args"}``; the server answers each in order
(``{"id", "ok"}`` or ``{"id", "error": {code, message, params}}``) and pushes every update of
the account (``{"update"}``) from the moment the account said hello. Values are the adapter's
typed dataclasses, tagged with their class name; bytes travel as base64. Only those classes and
the ``TelegramCalls`` methods are accepted: nothing else is decoded or called. Errors come back as
the same ``telegram.errors`` class with the same message and parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from typing import Any

from telesip.calls.telegram import errors
from telesip.calls.telegram.adapter import (
    CallProtocol,
    CallReady,
    CallRef,
    DhConfig,
    DiscardReason,
    Subscription,
    TgUser,
    UpdateHub,
)
from telesip.calls.telegram.codec import decode, encode
from tests.fakes.telegram_calls import FakeCalls, FakeTelegram

__all__ = ["FakeTelegramClient", "FakeTelegramServer", "decode", "encode"]

log = logging.getLogger(__name__)

_METHODS = frozenset(
    {
        "get_dh_config",
        "request_call",
        "accept_call",
        "confirm_call",
        "discard_call",
        "send_signaling",
        "received_call",
    }
)
_ERRORS: dict[str, type[errors.TelegramError]] = {
    cls.code: cls
    for cls in (
        errors.TelegramError,
        errors.CallPrivacyRestricted,
        errors.CalleeUnavailable,
        errors.CallerUnavailable,
        errors.CallGone,
        errors.CallMediaFailed,
        errors.NoFreeCaller,
        errors.SessionError,
    )
}
_LIMIT = 1 << 20  # one line: a signaling blob is a few KiB


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class FakeTelegramServer:
    """Serves every account of ``tg`` to ``FakeTelegramClient``s (TCP, or a Unix socket)."""

    def __init__(self, tg: FakeTelegram, server: asyncio.Server) -> None:
        self.tg = tg
        self._server = server
        self._conns: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls, tg: FakeTelegram, *, host: str = "127.0.0.1", port: int = 0, path: str | None = None
    ) -> FakeTelegramServer:
        holder: list[FakeTelegramServer] = []

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.create_task(holder[0]._serve(reader, writer), name="fake-tg-conn")
            holder[0]._conns.add(task)
            task.add_done_callback(holder[0]._conns.discard)

        if path is not None:
            server = await asyncio.start_unix_server(accept, path, limit=_LIMIT)
        else:
            server = await asyncio.start_server(accept, host, port, limit=_LIMIT)
        holder.append(cls(tg, server))
        return holder[0]

    @property
    def port(self) -> int:
        """The TCP port listened on (0 for a Unix socket)."""
        name = self._server.sockets[0].getsockname()
        return int(name[1]) if isinstance(name, tuple) else 0

    async def close(self) -> None:
        self._server.close()
        for task in list(self._conns):
            task.cancel()
        for task in list(self._conns):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    async def __aenter__(self) -> FakeTelegramServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sub: Subscription | None = None
        pusher: asyncio.Task[None] | None = None
        try:
            hello = json.loads(await reader.readline() or b"null")
            if not isinstance(hello, dict) or hello.get("call") != "hello":
                return
            me = decode(hello["args"][0])
            if not isinstance(me, TgUser):
                return
            endpoint = self.tg.account(me)
            sub = endpoint.updates()  # before the answer: nothing after hello is missed
            writer.write(_line({"id": hello.get("id"), "ok": None}))
            pusher = asyncio.create_task(self._push(sub, writer), name=f"fake-tg-push-{me.id}")
            while line := await reader.readline():
                writer.write(_line(await self._answer(endpoint, json.loads(line))))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            log.info("fake Telegram connection dropped: %s", exc)
        finally:
            if sub is not None:
                sub.close()
            if pusher is not None:
                pusher.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                    await pusher
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _push(self, sub: Subscription, writer: asyncio.StreamWriter) -> None:
        async for update in sub:
            writer.write(_line({"update": encode(update)}))

    async def _answer(self, endpoint: FakeCalls, request: dict[str, Any]) -> dict[str, Any]:
        rid, method = request.get("id"), request.get("call")
        if method not in _METHODS:
            error = errors.TelegramError(reason=f"no such call: {method!r}")
            return {"id": rid, "error": _error(error)}
        try:
            result = await getattr(endpoint, method)(*decode(request.get("args", [])))
        except errors.TelegramError as exc:
            return {"id": rid, "error": _error(exc)}
        return {"id": rid, "ok": encode(result)}


def _error(exc: errors.TelegramError) -> dict[str, Any]:
    params = {k: v for k, v in exc.params.items() if isinstance(v, str | int | float | None)}
    return {"code": exc.code, "message": exc.message, "params": params}


class FakeTelegramClient:
    """``TelegramCalls`` for one account of a ``FakeTelegram`` in another process."""

    def __init__(self, me: TgUser, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._me = me
        self._reader = reader
        self._writer = writer
        self._hub = UpdateHub()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reading: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def connect(
        cls, me: TgUser, *, host: str = "127.0.0.1", port: int = 0, path: str | None = None
    ) -> FakeTelegramClient:
        """Connect as ``me``; updates are delivered from the moment this returns."""
        try:
            if path is not None:
                reader, writer = await asyncio.open_unix_connection(path, limit=_LIMIT)
            else:
                reader, writer = await asyncio.open_connection(host, port, limit=_LIMIT)
        except OSError as exc:
            raise errors.CallerUnavailable(reason=f"fake Telegram unreachable: {exc}") from exc
        client = cls(me, reader, writer)
        client._reading = asyncio.create_task(client._read(), name=f"fake-tg-client-{me.id}")
        await client._rpc("hello", me)
        return client

    @property
    def me(self) -> TgUser:
        return self._me

    def updates(self) -> Subscription:
        return self._hub.subscribe()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reading
        self._gone()

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                message = json.loads(line)
                if "update" in message:
                    self._hub.publish(decode(message["update"]))
                    continue
                fut = self._pending.pop(message.get("id"), None)
                if fut is None or fut.done():
                    continue
                if "error" in message:
                    fut.set_exception(_raise(message["error"]))
                else:
                    fut.set_result(decode(message.get("ok")))
        except (ConnectionError, ValueError) as exc:
            log.warning("fake Telegram connection of %s lost: %s", self._me.id, exc)
        finally:
            self._gone()

    def _gone(self) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(errors.CallerUnavailable(reason="the fake Telegram went away"))
        self._pending.clear()
        self._hub.close()

    async def _rpc(self, method: str, *args: Any) -> Any:
        if self._closed or (self._reading is not None and self._reading.done()):
            raise errors.CallerUnavailable(reason="not connected to the fake Telegram")
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._writer.write(_line({"id": rid, "call": method, "args": encode(args)}))
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            self._pending.pop(rid, None)
            raise errors.CallerUnavailable(reason=f"fake Telegram: {exc}") from exc
        return await fut

    # -- TelegramCalls

    async def get_dh_config(self) -> DhConfig:
        result: DhConfig = await self._rpc("get_dh_config")
        return result

    async def request_call(self, user_id: int, g_a_hash: bytes, protocol: CallProtocol) -> CallRef:
        result: CallRef = await self._rpc("request_call", user_id, g_a_hash, protocol)
        return result

    async def accept_call(self, call: CallRef, g_b: bytes, protocol: CallProtocol) -> None:
        await self._rpc("accept_call", call, g_b, protocol)

    async def confirm_call(
        self, call: CallRef, g_a: bytes, key_fingerprint: int, protocol: CallProtocol
    ) -> CallReady:
        result: CallReady = await self._rpc("confirm_call", call, g_a, key_fingerprint, protocol)
        return result

    async def discard_call(self, call: CallRef, reason: DiscardReason, duration: int) -> None:
        await self._rpc("discard_call", call, reason, duration)

    async def send_signaling(self, call: CallRef, data: bytes) -> None:
        await self._rpc("send_signaling", call, data)

    async def received_call(self, call: CallRef) -> None:
        await self._rpc("received_call", call)


def _raise(error: dict[str, Any]) -> errors.TelegramError:
    cls = _ERRORS.get(str(error.get("code")), errors.TelegramError)
    params = error.get("params") or {}
    return cls(str(error.get("message") or ""), **params)
