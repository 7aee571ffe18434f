"""The Python clients (clients/python): ``models`` is what generate.py makes of the two
checked-in OpenAPI documents, every method is named after an operation of its document and
returns that operation's answer type, the worker client covers the whole control plane, and
both work against the app (idempotent create, ETag, problems in the person's language, a
worker's join/sync/leave and its refusal)."""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from telesip_client import (
    PUBLIC_OPERATIONS,
    WORKER_OPERATIONS,
    ProblemError,
    Refused,
    TelesipClient,
    WorkerClient,
)
from telesip_client import models as client_models
from telesip_client.base import BaseClient
from telesip_client.models import BulkAssignIn, BulkSelection

from telesip.domain.model import TelegramUser
from telesip.services import fleet, people

from .conftest import ALICE, BOB, Api, settings_body

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "clients/python/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    return module


generate = _generator()


def test_the_models_are_what_the_documents_make() -> None:
    written = (ROOT / "clients/python/telesip_client/models.py").read_text(encoding="utf-8")
    assert written == generate.render(generate.load()), (
        "clients/python/telesip_client/models.py is stale: python -m telesip.api.openapi docs"
    )


def test_the_generator_notices_a_changed_document() -> None:
    """The check above can fail: a field added to a schema or an operation moved changes the
    module the generator writes."""
    docs = generate.load()
    before = generate.render(docs)
    schema = docs["WORKER"]["components"]["schemas"]["SyncOut"]
    schema["properties"]["paused"] = {"type": "boolean"}
    schema["required"].append("paused")
    assert "    paused: Required[bool]" in generate.render(docs)
    docs = generate.load()
    docs["PUBLIC"]["paths"]["/api/v1/accounts/{account_id}"]["get"]["operationId"] = "readAccount"
    assert generate.render(docs) != before


def test_the_coverage_check_notices_a_new_operation() -> None:
    """The check below can fail: an operation added to the document that no method makes."""
    document = json.loads((ROOT / "docs/openapi.json").read_text(encoding="utf-8"))
    document["paths"]["/api/v1/accounts/{account_id}/pause"] = {"post": {"operationId": "pause"}}
    names = {
        _snake(op["operationId"]) for item in document["paths"].values() for op in item.values()
    }
    assert names - set(_methods(TelesipClient)) == {"pause"}


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def _methods(cls: type) -> dict[str, Any]:
    return {
        name: f
        for name, f in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_") and not hasattr(BaseClient, name)
    }


@pytest.mark.parametrize(
    ("cls", "doc", "prefix"),
    [(TelesipClient, "openapi.json", ""), (WorkerClient, "worker-openapi.json", "worker")],
)
def test_each_method_is_an_operation_and_returns_its_answer_type(
    cls: type, doc: str, prefix: str
) -> None:
    document = json.loads((ROOT / "docs" / doc).read_text(encoding="utf-8"))
    by_name = {
        _snake(op["operationId"].removeprefix(prefix)): op
        for item in document["paths"].values()
        for op in item.values()
    }
    methods = _methods(cls)
    assert methods, cls
    for name, method in methods.items():
        assert name in by_name, f"{cls.__name__}.{name} is no operation of docs/{doc}"
        expected = generate.response_annotation(by_name[name])
        assert method.__annotations__["return"] == expected, (cls.__name__, name)
    missing = sorted(set(by_name) - set(methods))
    assert not missing, f"{cls.__name__} has no method for {missing} of docs/{doc}"
    operations = WORKER_OPERATIONS if cls is WorkerClient else PUBLIC_OPERATIONS
    assert {_snake(i.removeprefix(prefix)) for i in operations} == set(methods)
    assert client_models.__all__  # the types the methods name come from the documents


async def test_the_client_against_the_app(api: Api) -> None:
    key = api.admin["Authorization"].removeprefix("Bearer ")
    transport = httpx.ASGITransport(app=api.app)
    async with TelesipClient("http://api", key, transport=transport, language="ru") as client:
        made = await client.create_account(
            {"id": ALICE},
            settings_body(),  # type: ignore[arg-type]
            idempotency_key="client-1",
        )
        again = await client.create_account(
            {"id": ALICE},
            settings_body(),  # type: ignore[arg-type]
            idempotency_key="client-1",
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
        assert (await client.get_account_audit(made["id"]))["records"]
        assert (await client.list_unused_accounts())["accounts"] == []
        csv = b"login;password;domain\n201;Pa55-word-201;pbx.example.com\n"
        result = await client.import_accounts(ALICE, csv, dry_run=True)
        assert result["counts"]["new"] == 1
    async with TelesipClient("http://api", "tsk_wrong", transport=transport) as client:
        with pytest.raises(Refused) as refused:
            await client.list_accounts()
        assert refused.value.status == 401


async def test_the_other_operations_against_the_app(api: Api) -> None:
    """Every method the test above does not call, each against the app once."""
    key = api.admin["Authorization"].removeprefix("Bearer ")
    await people.remember(api.deps, TelegramUser(BOB, "Bob", "bobby"))
    transport = httpx.ASGITransport(app=api.app)
    async with TelesipClient("http://api", key, transport=transport) as client:
        plan = await client.set_subscription(ALICE, {"plan": "office"})
        assert plan == await client.get_subscription(ALICE)
        made = await client.create_template({"name": "HQ", "domain": "pbx.hq.example"})
        assert await client.get_template(made["id"]) == made
        assert made["id"] in {t["id"] for t in await client.list_templates()}
        await client.delete_template(made["id"])
        account = await client.create_account({"id": ALICE}, settings_body())  # type: ignore[arg-type]
        assert (await client.assign_account(account["id"], {"id": BOB}))["user_id"] == BOB
        assert (await client.take_back_account(account["id"]))["user_id"] == ALICE
        paid = await client.set_account_operator_paid(account["id"], True)
        assert paid["id"] == account["id"]
        one: BulkSelection = {"owner_id": ALICE, "account_ids": [account["id"]]}
        assert (await client.disable_bulk_accounts(one))["changed"] == [account["id"]]
        assert (await client.enable_bulk_accounts(one))["changed"] == [account["id"]]
        rows: BulkAssignIn = {
            "owner_id": ALICE,
            "rows": [{"account_id": account["id"], "user": BOB}],
        }
        assert (await client.assign_bulk_accounts(rows))["changed"] == [account["id"]]
        bulk = await client.create_bulk_links(one)
        assert [x["account_id"] for x in bulk["links"]] == [account["id"]]
        link = await client.create_link({"id": ALICE}, settings_body("200"))  # type: ignore[arg-type]
        assert (await client.get_link(link["id"]))["id"] == link["id"]
        assert (await client.get_link_qr(link["id"])).startswith(b"\x89PNG")
        await client.revoke_link(link["id"])
        assert (await client.delete_bulk_accounts(one))["changed"] == [account["id"]]
        assert (await client.list_calls())["calls"] == []
        with pytest.raises(ProblemError) as no_call:
            await client.get_call(4242)
        assert no_call.value.status == 404
        with pytest.raises(ProblemError) as no_line:
            await client.place_call(4242, "+4930123456")
        assert no_line.value.status == 404
        hook = await client.create_webhook({"url": "https://hooks.example/telesip"})
        assert (await client.get_webhook(hook["id"]))["url"] == "https://hooks.example/telesip"
        assert [h["id"] for h in await client.list_webhooks()] == [hook["id"]]
        assert await client.list_webhook_deliveries(hook["id"]) == []
        await client.delete_webhook(hook["id"])
        assert (await client.get_liveness()) and (await client.get_health())["database"]
        assert "# TYPE" in await client.get_metrics()
        try:
            assert await client.get_readiness()
        except ProblemError as not_ready:  # no bot or worker in this process: its body says
            assert not_ready.status == 503 and not_ready.problem


async def test_the_worker_client_against_the_app(api: Api) -> None:
    _, credential = await fleet.create_worker(api.deps, "edge", remote=True)
    assert credential is not None
    transport = httpx.ASGITransport(app=api.app)
    async with WorkerClient("http://api", credential, name="edge", transport=transport) as plane:
        with pytest.raises(RuntimeError):
            await plane.sync(stats={})  # join first
        await plane.check()
        joined = await plane.join(["udp:192.0.2.7:5060"])
        assert plane.instance == joined["instance"] and joined["ttl_seconds"] > 0
        answer = await plane.sync(stats={"held": 0}, reports=[])
        assert answer == {"accounts": []}
        assert await plane.calls_orphaned() == {"ended": 0}
        assert await plane.calls_claimed([]) == []
        with pytest.raises(ProblemError) as missing:
            await plane.call_answered(999, None)
        assert missing.value.status == 404 and not isinstance(missing.value, Refused)
        await plane.leave()
    async with WorkerClient("http://api", "tsw_wrong", name="edge", transport=transport) as plane:
        with pytest.raises(Refused) as refused:
            await plane.join([])
        assert refused.value.status in (401, 403) and "\n" not in str(refused.value)


async def test_an_error_page_of_a_proxy_is_one_line() -> None:
    """A reverse proxy's HTML 502 is no problem document: the error still reads in one line."""
    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body>\n</html>\n"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=page, headers={"Content-Type": "text/html"})

    transport = httpx.MockTransport(answer)
    async with WorkerClient("https://plane", "tsw_x", name="w", transport=transport) as plane:
        with pytest.raises(ProblemError) as bad:
            await plane.join([])
    assert str(bad.value).startswith("502 http_error: <html> <head><title>502 Bad Gateway")
    assert "\n" not in str(bad.value)
