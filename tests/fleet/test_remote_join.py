"""How a remote worker meets a control plane that answers badly at start-up: 5xx (a problem
document, or a proxy's HTML page) is an outage it waits out with backoff, logging one line per
attempt; any other refusal ends it at once with one line naming the control plane. The
control plane here is an httpx transport answering as scripted (no database, no network)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

from telesip.domain import errors
from telesip.workers.registrar import RegistrationManager
from telesip.workers.remote import RemoteWorker

from .test_worker import Forward, eventually

URL = "https://plane.example"
JOINED = {"instance": "i-1", "ttl_seconds": 10, "poll_seconds": 0.05}
HTML_502 = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"


def _problem(status: int, code: str, detail: str) -> httpx.Response:
    body = {"type": f"/p/{code}", "title": code, "status": status, "detail": detail}
    body |= {"instance": "/api/v1/worker/join", "code": code}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json"})


def plane(joins: Iterator[httpx.Response]) -> tuple[httpx.MockTransport, list[str]]:
    """Join answers taken in turn from ``joins``; sync and leave answer as a healthy plane."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/join"):
            return next(joins)
        if request.url.path.endswith("/sync"):
            assert json.loads(request.content)["instance"] == "i-1"
            return httpx.Response(200, json={"accounts": []})
        return httpx.Response(204)

    return httpx.MockTransport(answer), seen


def _worker(transport: httpx.MockTransport) -> RemoteWorker:
    manager = RegistrationManager(status_sink=Forward(), bind_host="127.0.0.1", udp_port=0)
    worker = RemoteWorker(manager, URL, name="w1", credential="tsw_x", transport=transport)
    worker.join_backoff = (0.01, 0.02)
    return worker


@contextlib.asynccontextmanager
async def running(worker: RemoteWorker) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_5xx_at_start_up_is_waited_out_one_line_per_attempt(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="telesip.workers.remote")
    outage = [
        _problem(503, "storage_unavailable", "The database is not reachable."),
        httpx.Response(502, text=HTML_502, headers={"Content-Type": "text/html"}),
        httpx.Response(200, json=JOINED),
    ]
    transport, seen = plane(iter(outage))
    worker = _worker(transport)
    async with running(worker) as task:
        await eventually(lambda: "POST /api/v1/worker/sync" in seen, what="joined, then synced")
        assert not task.done() and worker.instance == "i-1"
    waits = [r.getMessage() for r in caplog.records if "not answering" in r.getMessage()]
    assert len(waits) == 2 and all("\n" not in w for w in waits), waits
    assert "ProblemError: 503 storage_unavailable: The database is not reachable." in waits[0]
    assert "502 http_error: <html> <head><title>502 Bad Gateway" in waits[1]
    assert all(f"control plane {URL}/api/v1/worker not answering" in w for w in waits)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda: _problem(422, "invalid_request", "The request has 1 invalid part(s)."),
            "answered the join with 422 invalid_request: The request has 1 invalid part(s).",
        ),
        (
            lambda: _problem(403, "worker_refused", "Worker 'w1' is revoked."),
            "refused this worker: Worker 'w1' is revoked.",
        ),
    ],
)
async def test_a_refused_join_ends_the_worker_with_one_line(
    answer: Callable[[], httpx.Response], expected: str
) -> None:
    transport, seen = plane(iter([answer(), answer()]))
    worker = _worker(transport)
    with pytest.raises(errors.ConfigError) as ended:
        await asyncio.wait_for(worker.run(), 10)
    message = ended.value.message
    assert message.startswith(f"the control plane at {URL}/api/v1/worker ")
    assert message.endswith(expected) and "\n" not in message
    assert seen == ["POST /api/v1/worker/join"]  # not retried
