"""The OpenAPI contract: the checked-in documents are what the code makes, and they say what
an integrator needs (stable camelCase operationIds, problem-details errors per operation, two
security schemes, the worker control plane apart, readable names, integer limits)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from telesip.api.app import documents

from .conftest import Api

DOCS = Path(__file__).resolve().parents[2] / "docs"
REGENERATE = "regenerate with: python -m telesip.api.openapi docs"


@pytest.fixture(scope="module")
def docs() -> tuple[dict[str, Any], dict[str, Any]]:
    return documents()


def test_the_checked_in_documents_are_current(docs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    public, worker = docs
    for name, doc in (("openapi.json", public), ("worker-openapi.json", worker)):
        stored = json.loads((DOCS / name).read_text(encoding="utf-8"))
        assert stored == json.loads(json.dumps(doc)), f"docs/{name} is stale; {REGENERATE}"


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op) for path, item in doc["paths"].items() for method, op in item.items()
    ]


def _numbers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [
            n
            for k, v in value.items()
            for n in ([v] if k in ("maximum", "minimum") else _numbers(v))
        ]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


def test_the_documents_say_what_an_integrator_needs(
    docs: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    public, worker = docs
    assert public["openapi"].startswith("3.1") and worker["openapi"].startswith("3.1")
    assert not [p for p in public["paths"] if p.startswith("/api/v1/worker")]
    assert all(p.startswith("/api/v1/worker/") for p in worker["paths"])
    assert set(public["components"]["securitySchemes"]) == {"operatorKey"}
    assert set(worker["components"]["securitySchemes"]) == {"workerCredential"}
    for doc in docs:
        ids = [op["operationId"] for _, _, op in _operations(doc)]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z0-9]*)*", i) for i in ids), ids
        assert all(re.fullmatch(r"[A-Za-z]+", name) for name in doc["components"]["schemas"])
        assert all(isinstance(n, int) for n in _numbers(doc))
        for method, path, op in _operations(doc):
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    content = response["content"]
                    assert content == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (method, path, status)
    ops = {op["operationId"]: (method, path, op) for method, path, op in _operations(public)}
    assert {"listAccounts", "createAccount", "getAccount", "updateAccountSettings"} <= set(ops)
    assert set(ops["getHealth"][2]["responses"]) == {"200", "503"}
    list_accounts = ops["listAccounts"][2]["responses"]
    assert "402" not in list_accounts and "413" not in list_accounts  # only what it can return
    create = ops["createAccount"][2]
    assert "Location" in create["responses"]["201"]["headers"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    settings_in = public["components"]["schemas"]["SettingsIn"]
    assert [a["required"] for a in settings_in["anyOf"]] == [["domain"], ["template"]]
    assert ops["getAccount"][2]["parameters"][0]["schema"]["maximum"] == 2**63 - 1
    link_params = ops["listLinks"][2]["parameters"]
    assert [p["required"] for p in link_params if p["name"] == "owner_id"] == [True]


async def test_the_worker_document_is_served(api: Api) -> None:
    r = await api.client.get("/api/v1/worker/openapi.json")
    assert r.status_code == 200 and set(r.json()["components"]["securitySchemes"]) == {
        "workerCredential"
    }
    r = await api.client.get("/api/v1/openapi.json")
    assert "/api/v1/worker/join" not in r.json()["paths"]
