"""The body of a keyed request is hashed as it arrives and spooled, not held whole: the
streamed hash is the hash of the whole body (a multipart boundary taken out, wherever the
chunks split it), and a 32 MB body passes through the middleware in bounded memory."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest
from starlette.types import Message, Receive, Scope, Send

from telesip.api import idempotency
from telesip.api.idempotency import BodyHash, Idempotency
from telesip.services.idempotency import Stored

BOUNDARY = "b0undary-7f3a"


def _scope(content_type: str = f"multipart/form-data; boundary={BOUNDARY}") -> Scope:
    headers = [
        (b"content-type", content_type.encode()),
        (b"idempotency-key", b"big-1"),
        (b"authorization", b"Bearer tsk_x"),
    ]
    return {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/accounts/import",
        "query_string": b"owner_id=1",
        "headers": headers,
    }


def _whole(scope: Scope, body: bytes) -> str:
    digest = BodyHash(scope)
    digest.update(body)
    return digest.hexdigest()


def _body(boundary: str) -> bytes:
    part = b"login;password\r\n101;pw\r\n"
    return (
        f"--{boundary}\r\nContent-Disposition: form-data; name=file\r\n\r\n".encode()
        + part
        + f"\r\n--{boundary}--\r\n".encode()
    )


@pytest.mark.parametrize("size", [1, 2, 3, 7, 13, 64])
def test_the_streamed_hash_is_the_whole_bodys(size: int) -> None:
    body = _body(BOUNDARY)
    digest = BodyHash(_scope())
    for at in range(0, len(body), size):
        digest.update(body[at : at + size])
    assert digest.hexdigest() == _whole(_scope(), body)
    other_boundary = _scope("multipart/form-data; boundary=another-one")
    assert _whole(other_boundary, _body("another-one")) == _whole(_scope(), body)
    changed = body.replace(b"101", b"102")
    assert _whole(_scope(), changed) != _whole(_scope(), body)
    plain = _scope("application/json")
    assert _whole(plain, body) != _whole(_scope(), body)  # no boundary: hashed as it is


async def test_a_32_mb_body_is_spooled_not_held(monkeypatch: pytest.MonkeyPatch) -> None:
    size, chunk = 32 * 1024 * 1024, b"x" * 65536
    seen = hashlib.sha256()
    stored: list[Stored] = []

    async def begin(*args: object) -> None:
        return None

    async def finish(deps: object, owner: str, key: str, answer: Stored) -> None:
        stored.append(answer)

    monkeypatch.setattr(idempotency.idempotency, "begin", begin)
    monkeypatch.setattr(idempotency.idempotency, "finish", finish)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # reads as it streams
        received = 0
        while True:
            message = await receive()
            seen.update(message["body"])
            received += len(message["body"])
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(received).encode()})

    sent = 0

    async def receive() -> Message:
        nonlocal sent
        sent += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": sent < size}

    answers: list[Message] = []

    async def send(message: Message) -> None:
        answers.append(message)

    scope = _scope("application/octet-stream") | {"app": _App()}
    tracemalloc.start()
    try:
        await Idempotency(app)(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert answers[-1]["body"] == str(size).encode() and stored[0].body == str(size).encode()
    assert seen.hexdigest() == hashlib.sha256(chunk * (size // len(chunk))).hexdigest()
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for a {size}-byte body"


class _App:  # the shape of Starlette's app.state.services
    state = type("State", (), {"services": None})
