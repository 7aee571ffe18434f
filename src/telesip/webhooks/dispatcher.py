"""The webhook dispatcher: fans new audit records out to deliveries and POSTs the due ones.

One loop per process; several processes may run it (the cursor row and the delivery leases
keep them apart). It wakes on every domain event published in this process and polls the
database otherwise, so events made by other processes go out too. It never raises out of the
loop: a failed round is logged and retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx

from telesip.domain import webhook_signature as signing
from telesip.domain.events import Event
from telesip.domain.readmodels import DueDelivery
from telesip.metrics import WEBHOOK_DELIVERIES
from telesip.services import webhooks as svc
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)


class WebhookDispatcher:
    def __init__(
        self,
        deps: Dependencies,
        *,
        client: httpx.AsyncClient | None = None,
        poll_interval: float = 2.0,
        timeout: float = 10.0,
        gap_grace: float = 10.0,
        concurrency: int = 10,
    ) -> None:
        self.deps = deps
        self._client = client
        self._own_client = client is None
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.gap_grace = gap_grace
        self.concurrency = concurrency
        self._wake = asyncio.Event()
        deps.bus.subscribe(None, self._on_event)

    async def _on_event(self, _event: Event) -> None:
        self._wake.set()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def run_once(self) -> int:
        """One round: fan out, then send what is due. Returns the attempts made."""
        await svc.fan_out(self.deps, gap_grace=self.gap_grace)
        due = await svc.claim_due(self.deps, limit=self.concurrency * 5)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(d: DueDelivery) -> None:
            async with sem:
                await self.deliver(d)

        await asyncio.gather(*(one(d) for d in due))
        return len(due)

    async def deliver(self, d: DueDelivery) -> str:
        body = json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(self.deps.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "telesip-webhooks/1",
            signing.EVENT_HEADER: d.event,
            **signing.headers(d.secret.reveal(), d.delivery_id, timestamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            response = await self.client.post(d.url, content=body, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:255]
        state = await svc.record_attempt(self.deps, d, status, error)
        WEBHOOK_DELIVERIES.labels(outcome={"pending": "retry"}.get(state, state)).inc()
        if state != "delivered":
            log.info("webhook delivery %s attempt %d: %s", d.delivery_id, d.attempt, error)
        return state

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                try:
                    busy = await self.run_once()
                except Exception:
                    log.exception("webhook round failed")
                    busy = 0
                if busy:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            if self._own_client and self._client is not None:
                await self._client.aclose()
