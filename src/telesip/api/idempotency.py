"""``Idempotency-Key`` on every POST of the operators' API (``services/idempotency.py`` keeps
the answers): a retry with the same key and body gets the first answer again (with
``Idempotent-Replayed: true``), the same key with another request 422
``idempotency_key_reused``, a retry while the first still runs 409 ``idempotency_in_progress``
(with ``Retry-After``).

Keys belong to the credential that sent them (its SHA-256), so two operators never share one.
Answers are stored unless they are server errors (5xx) or 401: those did nothing, and a retry
runs afresh. The key is an RFC 8941 string (``"..."``) or a bare token, 1-255 visible ASCII
characters. The worker control plane and the streamed recording upload are not covered.
"""

from __future__ import annotations

import hashlib
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesip.api import problems
from telesip.api.errors import RETRY_AFTER_SECONDS
from telesip.api.uploads import BadUpload, boundary_of
from telesip.domain import errors
from telesip.domain.errors import TelesipError
from telesip.services import idempotency
from telesip.services.dependencies import Dependencies

HEADER = b"idempotency-key"
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def _fingerprint(scope: Scope, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1")):
        h.update(part.encode("utf-8", "surrogateescape") + b"\x00")
    h.update(_without_boundary(scope, body))
    return h.hexdigest()


def _without_boundary(scope: Scope, body: bytes) -> bytes:
    """A multipart body with its boundary taken out: a client sending the same file again
    picks a new random boundary (curl -F, httpx, browsers do), and that is the same request,
    not a reused key. (A boundary never occurs inside the parts, by its definition.)"""
    try:
        boundary = boundary_of(problems.header(scope, b"content-type") or "")
    except BadUpload:
        return body
    return body.replace(b"--" + boundary, b"--\x00")


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = problems.header(scope, HEADER) if scope["type"] == "http" else None
        path = str(scope.get("path", ""))
        if (
            raw is None
            or scope["method"] != "POST"
            or not path.startswith("/api/v1/")
            or path.startswith("/api/v1/worker/")
        ):
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
        deps: Dependencies = scope["app"].state.services
        owner = hashlib.sha256(auth.encode("latin-1")).hexdigest()
        body = await _read(receive)
        try:
            stored = await idempotency.begin(deps, owner, key, _fingerprint(scope, body))
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
        self, scope: Scope, body: bytes, send: Send, deps: Dependencies, owner: str, key: str
    ) -> None:
        status = 500
        headers: list[tuple[str, str]] = []
        messages: list[Message] = []
        chunks: list[bytes] = []
        done = False

        async def replay() -> Message:
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

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


async def _read(receive: Receive) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return bytes(body)
