"""Liveness, readiness and the Prometheus metrics of this process, whichever parts it runs.

Each running part registers itself with :data:`PROBES` for as long as it runs
(``with PROBES.part(name, ready=..., collect=...)``): a readiness check (the database answers,
the bot's polling or webhook is alive, the worker has joined and its heartbeat is fresh) and a
collector of gauges read at scrape time from state the part keeps anyway, so that watching
costs nothing on the hot paths (counters there are the plain ints the parts already keep).

- ``/livez``: the process's event loop answers (200 ``{"status": "ok"}``).
- ``/readyz``: every registered check passes (200), else 503 naming each failing check.
- ``/metrics``: the Prometheus text of this process.

The API serves all three (``telesip run``, ``telesip api``); ``telesip worker`` and
``telesip bot`` serve them on ``TELESIP_METRICS_BIND`` when it is set (:func:`probes_server`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: a readiness check: None when ready, else a short reason
Check = Callable[[], Awaitable[str | None]]
Collect = Callable[[], Iterable[Metric]]


class Probes(Collector):
    """The checks and scrape-time collectors of the parts running in this process."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._collectors: dict[str, Collect] = {}

    @contextlib.contextmanager
    def part(
        self, name: str, *, ready: Check | None = None, collect: Collect | None = None
    ) -> Iterator[None]:
        """Register a part's check and collector while the ``with`` block runs."""
        if ready is not None:
            self._checks[name] = ready
        if collect is not None:
            self._collectors[name] = collect
        try:
            yield
        finally:
            if self._checks.get(name) is ready:
                self._checks.pop(name, None)
            if self._collectors.get(name) is collect:
                self._collectors.pop(name, None)

    async def readiness(self, within: float = 3.0) -> dict[str, str | None]:
        """Each check's verdict (None: ready), run side by side; one that hangs or fails says
        so instead of holding the probe."""
        checks = dict(self._checks)

        async def one(check: Check) -> str | None:
            try:
                async with asyncio.timeout(within):
                    return await check()
            except TimeoutError:
                return f"no answer within {within:g} s"
            except Exception as exc:
                return type(exc).__name__

        verdicts = await asyncio.gather(*(one(c) for c in checks.values()))
        return dict(zip(checks, verdicts, strict=True))

    def collect(self) -> Iterable[Metric]:
        for name, collect in list(self._collectors.items()):
            try:
                yield from collect()
            except Exception:  # a scrape must not fail because one part's view did
                log.exception("metrics of %s failed", name)


PROBES = Probes()
REGISTRY.register(PROBES)


async def ready_body() -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of ``/readyz``."""
    verdicts = await PROBES.readiness()
    failing = {k: v for k, v in verdicts.items() if v is not None}
    body = {
        "status": "not ready" if failing else "ready",
        "checks": {k: v or "ok" for k, v in verdicts.items()},
    }
    return (503 if failing else 200), body


def metrics_text() -> bytes:
    return generate_latest(REGISTRY)


@contextlib.asynccontextmanager
async def probes_server(bind: str | None) -> AsyncIterator[None]:
    """Serve /livez, /readyz and /metrics on ``bind`` (HOST:PORT) while the block runs;
    ``None``: nothing is served."""
    if not bind:
        yield
        return
    from aiohttp import web

    async def livez(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        status, body = await ready_body()
        return web.json_response(body, status=status)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=metrics_text(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    host, _, port = bind.rpartition(":")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host.strip("[]") or "127.0.0.1", int(port)).start()
        except OSError as exc:
            from telesip.domain.errors import ConfigError

            raise ConfigError(
                reason=f"cannot serve metrics on {bind}: {exc.strerror}; set TELESIP_METRICS_BIND"
            ) from None
        log.info("health and metrics on http://%s/metrics (/livez, /readyz)", bind)
        yield
    finally:
        await runner.cleanup()
