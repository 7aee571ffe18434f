"""The API as it runs: ``serve_api`` on a real socket (with its webhook dispatcher), the
OpenAPI document, ``/healthz`` and ``/metrics``, and the ``telesip api-keys`` commands."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from telesip.api.app import create_app, parse_bind, serve_api
from telesip.cli import app as cli_app
from telesip.config import Settings
from telesip.domain.clock import FakeClock
from telesip.domain.operators import Scope
from telesip.services import accounts, fleet, operators
from telesip.services.dependencies import Dependencies

from .conftest import ALICE, Api, settings_body

V1 = "/api/v1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_serve_api_answers_on_a_real_socket(services: Dependencies) -> None:
    port = _free_port()
    key = await operators.create_api_key(services, "root", Scope(all=True))
    task = asyncio.create_task(serve_api(services, Settings(api_bind=f"127.0.0.1:{port}")))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            for _ in range(500):  # until uvicorn listens (bounded)
                with contextlib.suppress(httpx.ConnectError):
                    r = await client.get("/healthz")
                    break
                await asyncio.sleep(0.01)
            assert r.json() == {
                "status": "ok",
                "database": True,
                "workers": 0,
                "workers_registered": 0,
            }
            headers = {"Authorization": f"Bearer {key.token}"}
            r = await client.post(
                f"{V1}/accounts",
                json={"owner": {"id": ALICE}, "settings": settings_body()},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            r = await client.get(f"{V1}/accounts/{r.json()['id']}", headers=headers)
            assert r.status_code == 200 and r.json()["owner_id"] == ALICE
            r = await client.get(f"{V1}/accounts", headers={"Authorization": "Bearer x"})
            assert r.status_code == 401
            r = await client.post(
                f"{V1}/accounts",
                content=b"x" * 100_000,
                headers=headers | {"content-type": "application/json"},
            )
            assert r.status_code == 413
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_parse_bind() -> None:
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    assert parse_bind(":80") == ("127.0.0.1", 80)


async def test_openapi_document_is_versioned_and_documents_errors(api: Api) -> None:
    r = await api.client.get(f"{V1}/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    paths = doc["paths"]
    for path in (
        f"{V1}/accounts",
        f"{V1}/accounts/{{account_id}}",
        f"{V1}/accounts/{{account_id}}/links",
        f"{V1}/links",
        f"{V1}/offers",
        f"{V1}/templates",
        f"{V1}/users/{{user_id}}/subscription",
        f"{V1}/webhooks",
        f"{V1}/accounts/{{account_id}}/audit",
    ):
        assert path in paths, path
    assert "401" in paths[f"{V1}/accounts"]["get"]["responses"]
    assert "bearer" in str(doc["components"]["securitySchemes"]).lower()
    account = paths[f"{V1}/accounts/{{account_id}}"]["get"]["responses"]["200"]
    name = account["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "password" not in doc["components"]["schemas"][name]["properties"]


async def test_healthz_and_metrics(api: Api) -> None:
    r = await api.client.post(
        f"{V1}/accounts",
        json={"owner": {"id": ALICE}, "settings": settings_body()},
        headers=api.admin,
    )
    await accounts.report_registration(api.deps, r.json()["id"], "registered", 200)
    await api.client.get(f"{V1}/accounts/999", headers=api.admin)
    await api.client.get(f"{V1}/accounts/0000999", headers=api.admin)  # the same route
    r = await api.client.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] is True
    r = await api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'telesip_accounts{state="registered"} 1.0' in text
    assert "telesip_offers_pending 0.0" in text
    assert 'telesip_domain_errors_total{code="account_not_found",via="api"}' in text
    assert "telesip_api_requests_total" in text and "telesip_webhook_deliveries_total" in text
    assert (
        'telesip_api_requests_total{method="GET",route="/api/v1/accounts/{account_id}",status="404"}'
        in text
    )
    assert 'route="/api/v1/accounts/0000999"' not in text  # no label per spelling of an id
    assert "telesip_bot_updates_total" in text
    assert 'telesip_workers{state="alive"} 0.0' in text


async def test_healthz_counts_live_workers(api: Api, clock: FakeClock) -> None:
    await fleet.join(api.deps, "w1")
    r = await api.client.get("/healthz")
    assert r.json() == {"status": "ok", "database": True, "workers": 1, "workers_registered": 1}
    clock.advance(Settings().lease_ttl_seconds + 1)  # no heartbeat since
    r = await api.client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "degraded",
        "database": True,
        "workers": 0,
        "workers_registered": 1,
    }


async def test_healthz_reports_an_unreachable_database(tmp_path: Path) -> None:
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    app = create_app(Dependencies(engine, Cipher("k")), Settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        r = await client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "down"
        r = await client.get("/api/v1/accounts", headers={"Authorization": "Bearer tsk_x"})
        assert r.status_code == 503 and r.json()["code"] == "storage_unavailable"
        assert r.headers["Retry-After"] == "5"  # issue 18 item 2: the client comes back
        r = await client.get("/metrics")
        assert r.status_code == 200
    await engine.dispose()


def test_api_keys_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELESIP_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    made = runner.invoke(cli_app, ["api-keys", "create", "acme", "--user", "1001", "--name", "x"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("tsk_")
    listed = runner.invoke(cli_app, ["api-keys", "list"])
    assert listed.exit_code == 0 and "acme" in listed.stdout and token not in listed.stdout
    assert runner.invoke(cli_app, ["api-keys", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(cli_app, ["api-keys", "list"]).stdout
    assert runner.invoke(cli_app, ["api-keys", "revoke", "7"]).exit_code == 1
    bad = runner.invoke(cli_app, ["api-keys", "create", "acme"])  # no scope
    assert bad.exit_code == 1


async def test_every_api_operation_needs_a_live_key(api: Api) -> None:
    revoked = await operators.create_api_key(api.deps, "gone", Scope(all=True))
    await operators.revoke_api_key(api.deps, revoked.key.id)
    doc = api.app.openapi()
    operations = [
        (method.upper(), re.sub(r"\{\w+\}", "1", path))  # every id: an address that exists
        for path, item in doc["paths"].items()
        if path.startswith(V1) and not path.startswith(f"{V1}/worker/")  # workers' own auth
        for method in item
    ]
    assert len(operations) >= 25
    for method, path in operations:
        for headers in ({}, {"Authorization": f"Bearer {revoked.token}"}):
            r = await api.client.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["code"] == "invalid_api_key"
