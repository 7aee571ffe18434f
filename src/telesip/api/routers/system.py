"""``/healthz`` (database reachable, workers alive) and ``/metrics`` (Prometheus text).

Neither needs a key: they are for the operator's load balancer and Prometheus, and the API is
bound to 127.0.0.1 by default. Gauges of stored state are read from the database per scrape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from telesip.api import schemas
from telesip.domain.errors import TelesipError
from telesip.services.context import Services
from telesip.store import tables as t

router = APIRouter(tags=["system"])


async def workers_alive(s: Services) -> int | None:
    """Live worker leases, where the worker part keeps a ``workers`` table; else None."""
    table = t.metadata.tables.get("workers")
    column = None
    if table is not None:
        column = next((table.c[n] for n in ("expires_at", "lease_until") if n in table.c), None)
    if table is None or column is None:
        return None
    async with s.uow() as uow:
        return int(await uow.conn.scalar(select(func.count()).where(column > uow.now)) or 0)


@router.get(
    "/healthz",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "Database unreachable"}},
)
async def healthz(request: Request) -> JSONResponse:
    s: Services = request.app.state.services
    database = True
    workers = None
    try:
        async with s.uow() as uow:
            await uow.conn.execute(text("SELECT 1"))
        workers = await workers_alive(s)
    except (TelesipError, OSError):
        database = False
    body = schemas.Health(
        status="ok" if database else "degraded", database=database, workers=workers
    )
    return JSONResponse(body.model_dump(), status_code=200 if database else 503)


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


async def _state_metrics(s: Services) -> list[Metric]:
    a = t.accounts
    accounts = GaugeMetricFamily(
        "telesip_accounts", "SIP accounts by registration state", labels=["state"]
    )
    payers = GaugeMetricFamily(
        "telesip_accounts_by_payer", "SIP accounts by payer", labels=["payer"]
    )
    offers = GaugeMetricFamily("telesip_offers_pending", "Transfer offers waiting for Receive")
    deliveries = GaugeMetricFamily(
        "telesip_webhook_deliveries", "Webhook deliveries by state", labels=["state"]
    )
    async with s.uow() as uow:
        for state, count in await uow.conn.execute(
            select(a.c.reg_state, func.count()).group_by(a.c.reg_state)
        ):
            accounts.add_metric([state], count)
        for payer, count in await uow.conn.execute(
            select(a.c.payer, func.count()).group_by(a.c.payer)
        ):
            payers.add_metric([payer], count)
        pending = await uow.conn.scalar(
            select(func.count()).where(
                t.offers.c.state == "pending", t.offers.c.expires_at > uow.now
            )
        )
        offers.add_metric([], pending or 0)
        d = t.webhook_deliveries
        for state, count in await uow.conn.execute(
            select(d.c.state, func.count()).group_by(d.c.state)
        ):
            deliveries.add_metric([state], count)
    return [accounts, payers, offers, deliveries]


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    s: Services = request.app.state.services
    registry = CollectorRegistry(auto_describe=False)
    # the database may be down: the process counters still tell something
    with contextlib.suppress(TelesipError):
        registry.register(_Snapshot(await _state_metrics(s)))
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
