"""``/healthz`` (database reachable, workers alive), ``/livez`` and ``/readyz`` (this process:
see ``telesip.health``) and ``/metrics`` (Prometheus text).

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

from telesip.api import schemas
from telesip.domain.errors import TelesipError
from telesip.health import ready_body
from telesip.services import fleet, gauges
from telesip.services.dependencies import Dependencies

router = APIRouter(tags=["system"])


async def workers_alive(deps: Dependencies, ttl: float) -> tuple[int, int]:
    """(alive, registered): workers with a fresh heartbeat, and those not revoked."""
    found = [w for w in await fleet.list_workers(deps, ttl=ttl) if not w.revoked]
    return sum(w.alive for w in found), len(found)


@router.get(
    "/healthz",
    response_model=schemas.Health,
    responses={503: {"model": schemas.Health, "description": "Database unreachable"}},
    summary="Database reachable, workers alive",
    operation_id="getHealth",
)
async def healthz(request: Request) -> JSONResponse:
    deps: Dependencies = request.app.state.services
    ttl = float(request.app.state.settings.lease_ttl_seconds)
    try:
        alive, registered = await workers_alive(deps, ttl)
    except (TelesipError, OSError):
        body = schemas.Health(status="down", database=False, workers=None, workers_registered=None)
        return JSONResponse(body.model_dump(), status_code=503)
    status = "degraded" if registered and not alive else "ok"
    body = schemas.Health(
        status=status, database=True, workers=alive, workers_registered=registered
    )
    return JSONResponse(body.model_dump(), status_code=200)


@router.get("/livez", summary="The process answers", operation_id="getLiveness")
async def livez() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Every part of this process is ready (database, bot, worker)",
    operation_id="getReadiness",
    responses={503: {"description": "Some part is not ready; the body names it"}},
)
async def readyz() -> JSONResponse:
    status, body = await ready_body()
    return JSONResponse(body, status_code=status)


class _Snapshot(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


async def _state_metrics(deps: Dependencies, ttl: float) -> list[Metric]:
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
    stored = await gauges.stored_state(deps)
    for state, count in stored.accounts_by_reg_state.items():
        accounts.add_metric([state], count)
    for payer, count in stored.accounts_by_payer.items():
        payers.add_metric([payer], count)
    offers.add_metric([], stored.offers_pending)
    for state, count in stored.deliveries_by_state.items():
        deliveries.add_metric([state], count)
    alive, registered = await workers_alive(deps, ttl)
    workers = GaugeMetricFamily("telesip_workers", "SIP workers", labels=["state"])
    workers.add_metric(["alive"], alive)
    workers.add_metric(["registered"], registered)
    return [accounts, payers, offers, deliveries, workers]


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    operation_id="getMetrics",
)
async def metrics(request: Request) -> Response:
    deps: Dependencies = request.app.state.services
    registry = CollectorRegistry(auto_describe=False)
    # the database may be down: the process counters still tell something
    with contextlib.suppress(TelesipError):
        ttl = float(request.app.state.settings.lease_ttl_seconds)
        registry.register(_Snapshot(await _state_metrics(deps, ttl)))
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
