"""The Python client (clients/python): every operation it calls is in docs/openapi.json with
the same method and path, and it works against the app (idempotent create, ETag, problems)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from telesip_client import OPERATIONS, ProblemError, TelesipClient

from .conftest import ALICE, Api, settings_body

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_every_client_operation_is_in_the_document() -> None:
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    found = {
        op["operationId"]: (method.upper(), path)
        for path, item in doc["paths"].items()
        for method, op in item.items()
    }
    for operation, (method, path) in OPERATIONS.items():
        assert found.get(operation) == (method, path), operation


async def test_the_client_against_the_app(api: Api) -> None:
    key = api.admin["Authorization"].removeprefix("Bearer ")
    transport = httpx.ASGITransport(app=api.app)
    async with TelesipClient("http://api", key, transport=transport, language="ru") as client:
        made = await client.create_account(
            {"id": ALICE}, settings_body(), idempotency_key="client-1"
        )
        again = await client.create_account(
            {"id": ALICE}, settings_body(), idempotency_key="client-1"
        )
        assert again == made
        assert [a["id"] for a in (await client.list_accounts())["accounts"]] == [made["id"]]
        await client.get_account(made["id"])
        etag = client.last_etag
        assert etag is not None
        await client.update_account_settings(made["id"], {"port": 5070}, if_match=etag)
        with pytest.raises(ProblemError) as stale:
            await client.update_account_settings(made["id"], {"port": 5080}, if_match=etag)
        assert stale.value.status == 412 and stale.value.code == "precondition_failed"
        with pytest.raises(ProblemError) as missing:
            await client.get_account(999999)
        assert (
            missing.value.code == "account_not_found" and "нет" in missing.value.problem["detail"]
        )
