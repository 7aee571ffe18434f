"""The operators' HTTP API: ``create_app`` builds the FastAPI app, ``serve_api`` runs it (with
the webhook dispatcher) as a part of ``telesip run`` or alone with ``telesip api``.

Everything is under ``/api/v1`` except ``/healthz``, ``/metrics`` and the Telegram Mini App
(``/miniapp/``, ``telesip.miniapp``, served by the same server); the OpenAPI document is
at ``/api/v1/openapi.json`` and the docs at ``/api/v1/docs``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from typing import Any, cast

import httpx
import uvicorn
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesip.api import errors, openapi, problems
from telesip.api.auth import known_query
from telesip.api.idempotency import Idempotency
from telesip.api.routers import (
    accounts,
    bulk,
    calls,
    imports,
    links,
    offers,
    subscriptions,
    system,
    templates,
    webhooks,
    worker_control,
)
from telesip.config import Settings
from telesip.metrics import API_REQUESTS
from telesip.miniapp import router as miniapp_router
from telesip.services.dependencies import Dependencies
from telesip.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)
PREFIX = "/api/v1"
TITLE = "telesip operators' API"


class _CountRequests:
    """``telesip_api_requests_total`` by method, route template (not the raw path) and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            API_REQUESTS.labels(scope["method"], _route_of(scope), str(status)).inc()


def _route_of(scope: Scope) -> str:
    """The route template (``/api/v1/accounts/{account_id}``), never the raw path: each path
    parameter's segment is put back as its name (``007`` too); paths no route matched are
    "unmatched"."""
    if "route" not in scope:
        return "unmatched"
    names = {str(v): k for k, v in scope.get("path_params", {}).items()}
    segments = str(scope["path"]).split("/")
    # an id's segment is digits (``{account_id:int}``) and its value an int: 007 is 7
    as_value = [str(int(x)) if x.isdigit() else x for x in segments]
    pairs = zip(segments, as_value, strict=True)
    return "/".join(f"{{{names[v]}}}" if v in names else x for x, v in pairs)


def create_app(
    services: Dependencies, settings: Settings | None = None, *, bot_username: str | None = None
) -> FastAPI:
    app = FastAPI(
        title=TITLE,
        version="1",
        description=openapi.DESCRIPTION,
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.settings = settings or Settings()
    app.state.bot_username = bot_username
    v1 = APIRouter(prefix=PREFIX)
    for module in (
        imports,
        bulk,
        accounts,
        calls,
        links,
        offers,
        templates,
        subscriptions,
        webhooks,
    ):
        v1.include_router(module.router, dependencies=[Depends(known_query)])
    workers = APIRouter(prefix=PREFIX)
    workers.include_router(worker_control.router)
    app.include_router(v1)
    app.include_router(workers, include_in_schema=False)  # its own document, below
    app.include_router(system.router)
    app.include_router(miniapp_router)  # the Mini App, a part of its own (docs/miniapp.md)

    def public_document() -> dict[str, object]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.document(
                app.routes, title=TITLE, description=openapi.DESCRIPTION, idempotent_posts=True
            )
        return app.openapi_schema

    app.openapi = public_document  # type: ignore[method-assign]

    @functools.cache  # built when first asked for, like the public one (a tenth of a second)
    def worker_document() -> dict[str, Any]:
        return openapi.document(
            workers.routes,
            title=f"{TITLE}: worker control plane",
            description=openapi.WORKER_DESCRIPTION,
            idempotent_posts=True,
        )

    app.state.worker_openapi = worker_document

    @app.get(f"{PREFIX}/worker/openapi.json", include_in_schema=False)
    async def worker_openapi() -> JSONResponse:
        return JSONResponse(worker_document())

    @app.get(f"{PREFIX}/problems/{{code}}", include_in_schema=False)
    async def problem_type(code: str) -> HTMLResponse:
        """The page a problem's ``type`` URI names."""
        return HTMLResponse(problems.page(code[:64], errors.status_of_code(code)))

    app.add_middleware(Idempotency)  # inside BodyLimit: bodies are bounded before it reads them
    errors.install(app)
    app.add_middleware(_CountRequests)
    return app


def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """The operators' and the workers' OpenAPI documents (``docs/openapi.json`` and
    ``docs/worker-openapi.json`` are these; ``python -m telesip.api.openapi`` writes them)."""
    app = create_app(cast(Dependencies, None))
    return app.openapi(), app.state.worker_openapi()


async def bot_username(settings: Settings) -> str | None:
    """The bot's @username for t.me links (getMe), or None without a bot token."""
    if settings.bot_token is None:
        return None
    base = (settings.bot_api_url or "https://api.telegram.org").rstrip("/")
    url = f"{base}/bot{settings.bot_token.get_secret_value()}/getMe"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url)
            username = response.json()["result"]["username"]
            return str(username)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        log.warning("cannot learn the bot's username; settings links will have no t.me URL")
        return None


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def serve_api(deps: Dependencies, settings: Settings) -> None:
    """Run the API on ``TELESIP_API_BIND`` and the webhook dispatcher until cancelled."""
    app = create_app(deps, settings, bot_username=await bot_username(settings))
    host, port = parse_bind(settings.api_bind)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    dispatcher = asyncio.create_task(WebhookDispatcher(deps).run(), name="webhooks")
    try:
        log.info("HTTP API on http://%s:%d%s/docs", host, port, PREFIX)
        await server.serve()
    finally:
        dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dispatcher
