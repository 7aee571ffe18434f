"""A small typed client of telesip's operators' HTTP API (``docs/openapi.json``).

Each method is one operation of the document, named by its operationId (``OPERATIONS`` maps
them; the project's tests check every entry against the document). Errors raise
:class:`ProblemError` with the RFC 9457 problem details. Every POST sends an
``Idempotency-Key`` (a new UUID unless one is given), so a caller may simply retry it.

    async with TelesipClient("http://127.0.0.1:8080", "tsk_...") as api:
        account = await api.create_account({"id": 1001}, {"login": "101", ...})
        page = await api.list_accounts(limit=100)
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

import httpx

__all__ = ["OPERATIONS", "ProblemError", "TelesipClient"]

#: operationId -> (method, path template) of the operations this client calls
OPERATIONS: dict[str, tuple[str, str]] = {
    "listAccounts": ("GET", "/api/v1/accounts"),
    "createAccount": ("POST", "/api/v1/accounts"),
    "getAccount": ("GET", "/api/v1/accounts/{account_id}"),
    "updateAccountSettings": ("PATCH", "/api/v1/accounts/{account_id}/settings"),
    "setAccountEnabled": ("PUT", "/api/v1/accounts/{account_id}/enabled"),
    "deleteAccount": ("DELETE", "/api/v1/accounts/{account_id}"),
    "createAccountLink": ("POST", "/api/v1/accounts/{account_id}/links"),
    "listLinks": ("GET", "/api/v1/links"),
    "createOffer": ("POST", "/api/v1/offers"),
    "getOffer": ("GET", "/api/v1/offers/{offer_id}"),
    "createWebhook": ("POST", "/api/v1/webhooks"),
}


class ProblemError(Exception):
    """An error answer: ``status``, ``code`` (telesip's stable code) and the whole problem."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code", "http_error"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")


class TelesipClient:
    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        language: str = "en",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {key}", "Accept-Language": language},
            transport=transport,
            timeout=timeout,
        )
        #: the ETag of the last account read or changed (for ``if_match``)
        self.last_etag: str | None = None

    async def __aenter__(self) -> TelesipClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        operation: str,
        *,
        path: dict[str, int] | None = None,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        method, template = OPERATIONS[operation]
        sent = dict(headers or {})
        if method == "POST":
            sent["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = await self._http.request(
            method, template.format(**(path or {})), params=query, json=json, headers=sent
        )
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:200]}
            raise ProblemError(response.status_code, problem)
        if "etag" in response.headers:
            self.last_etag = response.headers["etag"]
        return response.json() if response.content else None

    async def list_accounts(
        self, *, owner_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> dict[str, Any]:
        params = {"owner_id": owner_id, "after_id": after_id, "limit": limit}
        page: dict[str, Any] = await self._call("listAccounts", params=params)
        return page

    async def create_account(
        self, owner: dict[str, Any], settings: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        body = {"owner": owner, "settings": settings}
        made: dict[str, Any] = await self._call(
            "createAccount", json=body, idempotency_key=idempotency_key
        )
        return made

    async def get_account(self, account_id: int) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("getAccount", path={"account_id": account_id})
        return found

    async def update_account_settings(
        self, account_id: int, changes: dict[str, Any], *, if_match: str | None = None
    ) -> dict[str, Any]:
        headers = {"If-Match": if_match} if if_match else None
        changed: dict[str, Any] = await self._call(
            "updateAccountSettings", path={"account_id": account_id}, json=changes, headers=headers
        )
        return changed

    async def set_account_enabled(self, account_id: int, enabled: bool) -> dict[str, Any]:
        out: dict[str, Any] = await self._call(
            "setAccountEnabled", path={"account_id": account_id}, json={"enabled": enabled}
        )
        return out

    async def delete_account(self, account_id: int) -> None:
        await self._call("deleteAccount", path={"account_id": account_id})

    async def create_account_link(self, account_id: int) -> dict[str, Any]:
        link: dict[str, Any] = await self._call(
            "createAccountLink", path={"account_id": account_id}
        )
        return link

    async def list_links(self, owner_id: int) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = await self._call("listLinks", params={"owner_id": owner_id})
        return links

    async def create_offer(self, account_id: int, method: str) -> dict[str, Any]:
        body = {"account_id": account_id, "method": method}
        offer: dict[str, Any] = await self._call("createOffer", json=body)
        return offer

    async def get_offer(self, offer_id: int) -> dict[str, Any]:
        offer: dict[str, Any] = await self._call("getOffer", path={"offer_id": offer_id})
        return offer

    async def create_webhook(self, url: str, events: list[str] | None = None) -> dict[str, Any]:
        made: dict[str, Any] = await self._call(
            "createWebhook", json={"url": url, "events": events or []}
        )
        return made
