"""``Idempotency-Key`` on every POST of the operators' API and of the workers' control plane
(``services/idempotency.py`` keeps the answers): a retry with the same key and body gets the
first answer again (with ``Idempotent-Replayed: true``), the same key with another request 422
``idempotency_key_reused``, a retry while the first still runs 409 ``idempotency_in_progress``
(with ``Retry-After``).

Keys belong to the credential that sent them (its SHA-256), so two operators never share one.
Answers are stored unless they are server errors (5xx) or 401: those did nothing, and a retry
runs afresh. The key is an RFC 8941 string (``"..."``) or a bare token, 1-255 visible ASCII
characters. Not covered: a worker's recording upload (streamed, up to 512 MiB; its file is
named by the call, so a retried upload replaces the file and makes nothing new), and its sync
and check (idempotent by nature; the sync's answer holds SIP passwords, which are not to be
kept in another table).

The body is hashed as it arrives and spooled (memory up to ``SPOOL_IN_MEMORY``, then a
temporary file) for the operation to read: a 32 MB import is never held whole in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import tempfile
from collections.abc import AsyncIterator
from typing import BinaryIO, cast

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesip.api import problems
from telesip.api.errors import MAX_IMPORT, RETRY_AFTER_SECONDS, STREAMED, refuse_too_large
from telesip.api.uploads import SPOOL_IN_MEMORY, BadUpload, boundary_of
from telesip.domain import errors
from telesip.domain.errors import TelesipError
from telesip.services import idempotency
from telesip.services.dependencies import Dependencies

HEADER = b"idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
CHUNK = 64 * 1024


# A worker's heartbeat and its check are idempotent by nature (a retry reports the same state
# and gets the current accounts), and the heartbeat's answer holds SIP passwords: not stored.
_NOT_KEPT = frozenset({"/api/v1/worker/sync", "/api/v1/worker/check"})


def covers(method: str, path: str) -> bool:
    """Whether a request (or a path template of the documents) takes an Idempotency-Key."""
    return (
        method == "POST"
        and path.startswith("/api/v1/")
        and path not in _NOT_KEPT
        and not STREAMED.match(path.replace("{call_id}", "0"))
    )


class BodyHash:
    """SHA-256 of method, path, query and body, fed as the body arrives. A multipart body is
    hashed with its boundary taken out: a client sending the same file again picks a new
    random boundary (curl -F, httpx, browsers do), and that is the same request, not a reused
    key. (A boundary never occurs inside the parts, by its definition.)"""

    def __init__(self, scope: Scope) -> None:
        self._hash = hashlib.sha256()
        for part in (
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
        ):
            self._hash.update(part.encode("utf-8", "surrogateescape") + b"\x00")
        try:
            boundary = boundary_of(problems.header(scope, b"content-type") or "")
        except BadUpload:
            self._marker = b""
        else:
            self._marker = b"--" + boundary
        self._tail = b""  # bytes that may be the start of a marker split between chunks

    def update(self, chunk: bytes) -> None:
        if not self._marker:
            self._hash.update(chunk)
            return
        data, start = self._tail + chunk, 0
        while (at := data.find(self._marker, start)) >= 0:
            self._hash.update(data[start:at] + b"--\x00")
            start = at + len(self._marker)
        keep = max(start, len(data) - len(self._marker) + 1)
        self._hash.update(data[start:keep])
        self._tail = data[keep:]

    def hexdigest(self) -> str:
        self._hash.update(self._tail)
        self._tail = b""
        return self._hash.hexdigest()


class _TooLarge(Exception):
    pass


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = problems.header(scope, HEADER) if scope["type"] == "http" else None
        if raw is None or not covers(scope["method"], str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        key = raw.strip()
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1]
        if not _KEY.match(key):
            await problems.response(
                scope, 400, "invalid_idempotency_key", "Invalid Idempotency-Key."
            )(scope, receive, send)
            return
        auth = problems.header(scope, b"authorization")
        if not auth:  # 401 from the app; nothing to keep
            await self.app(scope, receive, send)
            return
        try:  # other bodies were bounded (by less) before they got here
            fingerprint, spool, size = await _spool(scope, receive, MAX_IMPORT)
        except _TooLarge:
            await refuse_too_large(scope, receive, send, MAX_IMPORT)
            return
        with spool:
            await self._keyed(scope, receive, send, key, auth, fingerprint, (spool, size))

    async def _keyed(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str,
        auth: str,
        fingerprint: str,
        body: tuple[BinaryIO, int],
    ) -> None:
        deps: Dependencies = scope["app"].state.services
        owner = hashlib.sha256(auth.encode("latin-1")).hexdigest()
        try:
            stored = await idempotency.begin(deps, owner, key, fingerprint)
        except errors.KeyReused as exc:
            await self._refuse(scope, receive, send, 422, exc)
            return
        except errors.KeyInProgress as exc:
            await self._refuse(scope, receive, send, 409, exc, {"Retry-After": "1"})
            return
        except TelesipError as exc:  # the database is down: retry shortly, as for any 503
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            await self._refuse(scope, receive, send, 503, exc, retry)
            return
        if stored is not None:
            headers = [(n.encode(), v.encode()) for n, v in stored.headers]
            headers += [
                (b"idempotent-replayed", b"true"),
                (b"content-length", str(len(stored.body)).encode()),
            ]
            await send({"type": "http.response.start", "status": stored.status, "headers": headers})
            await send({"type": "http.response.body", "body": stored.body})
            return
        await self._first(scope, body, send, deps, owner, key)

    async def _first(
        self,
        scope: Scope,
        body: tuple[BinaryIO, int],
        send: Send,
        deps: Dependencies,
        owner: str,
        key: str,
    ) -> None:
        status = 500
        headers: list[tuple[str, str]] = []
        messages: list[Message] = []
        chunks: list[bytes] = []
        again = _chunks_of(*body)

        async def replay() -> Message:
            chunk = await anext(again, None)
            if chunk is None:
                return {"type": "http.disconnect"}
            return {"type": "http.request", "body": chunk[0], "more_body": chunk[1]}

        async def capture(message: Message) -> None:
            # held until the answer is stored: a retry made after it arrived gets it again
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (n.decode("latin-1"), v.decode("latin-1")) for n, v in message["headers"]
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            messages.append(message)

        try:
            await self.app(scope, replay, capture)
            if status >= 500 or status == 401:
                await idempotency.abandon(deps, owner, key)
            else:
                kept = idempotency.stored_headers(headers)
                answer = idempotency.Stored(status, kept, b"".join(chunks))
                await idempotency.finish(deps, owner, key, answer)
        except BaseException:
            await idempotency.abandon(deps, owner, key)
            raise
        for message in messages:
            await send(message)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        exc: TelesipError,
        headers: dict[str, str] | None = None,
    ) -> None:
        response = problems.response(
            scope, status, exc.code, exc.message, params=exc.params, headers=headers
        )
        await response(scope, receive, send)


async def _spool(scope: Scope, receive: Receive, limit: int) -> tuple[str, BinaryIO, int]:
    """Read the body (at most ``limit`` bytes) into a spooled file, hashing it on the way:
    the request's fingerprint, the file (at its start) and the body's size."""
    digest = BodyHash(scope)
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY))  # noqa: SIM115
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge()
            digest.update(chunk)
            await _write(spool, chunk, on_disk=size > SPOOL_IN_MEMORY)
            if not message.get("more_body", False):
                break
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return digest.hexdigest(), spool, size


async def _write(spool: BinaryIO, chunk: bytes, *, on_disk: bool) -> None:
    if on_disk:  # a file by now: off the event loop
        await asyncio.to_thread(spool.write, chunk)
    else:
        spool.write(chunk)


async def _chunks_of(spool: BinaryIO, size: int) -> AsyncIterator[tuple[bytes, bool]]:
    """The spooled body again, as (chunk, more to come); one empty chunk for an empty body."""
    if size <= SPOOL_IN_MEMORY:
        yield spool.read(), False
        return
    left = size
    while left > 0:
        chunk = await asyncio.to_thread(spool.read, min(CHUNK, left))
        if not chunk:
            break
        left -= len(chunk)
        yield chunk, left > 0
