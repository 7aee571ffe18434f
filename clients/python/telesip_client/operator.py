"""The operators' API (``docs/openapi.json``) for Python: one method per operation it covers,
named after the operationId, taking and returning the document's own types (``models``).

Every POST sends an ``Idempotency-Key`` (a new UUID unless one is given) and is retried with
it when its answer is lost (``base``), so a caller may also simply send a failed POST again
with the same key: the server answers a retry with the first answer and makes nothing twice.

    async with TelesipClient("http://127.0.0.1:8080", "tsk_...") as api:
        account = await api.create_account({"id": 1001}, {"login": "101", ...})
        page = await api.list_accounts(limit=100)
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from .base import BaseClient
from .models import (
    PUBLIC_OPERATIONS,
    AccountCreate,
    AccountOut,
    AccountsPage,
    AuditPage,
    EnabledIn,
    ImportResultOut,
    LinkOut,
    OfferCreate,
    OfferOut,
    SettingsIn,
    SettingsPatch,
    UserIn,
    WebhookCreated,
    WebhookIn,
)

__all__ = ["TelesipClient"]


class TelesipClient(BaseClient):
    operations = PUBLIC_OPERATIONS

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        language: str = "en",
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.25,
    ) -> None:
        super().__init__(
            base_url,
            key,
            headers={"Accept-Language": language},
            verify=verify,
            transport=transport,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
        #: the ETag of the last account read or changed (for ``if_match``)
        self.last_etag: str | None = None

    async def _request(
        self, operation: str, *, path: dict[str, int] | None = None, **request: Any
    ) -> httpx.Response:
        if "params" in request:
            request["params"] = {k: v for k, v in request["params"].items() if v is not None}
        response = await super()._request(operation, path=path, **request)
        if "etag" in response.headers:
            self.last_etag = response.headers["etag"]
        return response

    async def list_accounts(
        self, *, owner_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> AccountsPage:
        params = {"owner_id": owner_id, "after_id": after_id, "limit": limit}
        page: AccountsPage = await self._call("listAccounts", params=params)
        return page

    async def list_unused_accounts(
        self, *, owner_id: int | None = None, after_id: int = 0, limit: int = 100
    ) -> AccountsPage:
        params = {"owner_id": owner_id, "after_id": after_id, "limit": limit}
        page: AccountsPage = await self._call("listUnusedAccounts", params=params)
        return page

    async def create_account(
        self, owner: UserIn, settings: SettingsIn, *, idempotency_key: str | None = None
    ) -> AccountOut:
        body: AccountCreate = {"owner": owner, "settings": settings}
        made: AccountOut = await self._call(
            "createAccount", json=body, idempotency_key=idempotency_key
        )
        return made

    async def import_accounts(
        self,
        owner_id: int,
        file: bytes,
        *,
        filename: str = "accounts.csv",
        server: str | None = None,
        dry_run: bool = False,
        idempotency_key: str | None = None,
    ) -> ImportResultOut:
        """A CSV, FreePBX export, pjsip.conf or sip.conf file, sent as multipart."""
        params = {"owner_id": owner_id, "server": server, "dry_run": str(dry_run).lower()}
        result: ImportResultOut = await self._call(
            "importAccounts",
            params=params,
            files={"file": (filename, file, "application/octet-stream")},
            idempotency_key=idempotency_key,
        )
        return result

    async def get_account(self, account_id: int) -> AccountOut:
        found: AccountOut = await self._call("getAccount", path={"account_id": account_id})
        return found

    async def get_account_audit(
        self, account_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> AuditPage:
        params = {"limit": limit, "before_id": before_id}
        page: AuditPage = await self._call(
            "getAccountAudit", path={"account_id": account_id}, params=params
        )
        return page

    async def update_account_settings(
        self, account_id: int, changes: SettingsPatch, *, if_match: str | None = None
    ) -> AccountOut:
        headers = {"If-Match": if_match} if if_match else None
        changed: AccountOut = await self._call(
            "updateAccountSettings", path={"account_id": account_id}, json=changes, headers=headers
        )
        return changed

    async def set_account_enabled(self, account_id: int, enabled: bool) -> AccountOut:
        body: EnabledIn = {"enabled": enabled}
        out: AccountOut = await self._call(
            "setAccountEnabled", path={"account_id": account_id}, json=body
        )
        return out

    async def delete_account(self, account_id: int) -> None:
        await self._call("deleteAccount", path={"account_id": account_id})

    async def create_account_link(self, account_id: int) -> LinkOut:
        link: LinkOut = await self._call("createAccountLink", path={"account_id": account_id})
        return link

    async def list_links(self, owner_id: int) -> list[LinkOut]:
        links: list[LinkOut] = await self._call("listLinks", params={"owner_id": owner_id})
        return links

    async def create_offer(self, offer: OfferCreate) -> OfferOut:
        """``{"account_id": 42, "method": "assign"}``"""
        made: OfferOut = await self._call("createOffer", json=offer)
        return made

    async def get_offer(self, offer_id: int) -> OfferOut:
        offer: OfferOut = await self._call("getOffer", path={"offer_id": offer_id})
        return offer

    async def create_webhook(self, webhook: WebhookIn) -> WebhookCreated:
        """``{"url": "https://...", "events": ["created", ...]}`` (no events: all of them)"""
        made: WebhookCreated = await self._call("createWebhook", json=webhook)
        return made
