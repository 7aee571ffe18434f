"""The operators' API (``docs/openapi.json``) for Python: one method per operation of the
document (``tests/api/test_client.py`` fails when one is missing), named after the
operationId, taking and returning the document's own types (``models``).

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
    AssignIn,
    AuditPage,
    BulkAssignIn,
    BulkLinksOut,
    BulkOut,
    BulkSelection,
    CallIn,
    CallOut,
    CallsPage,
    DeliveryOut,
    EnabledIn,
    Health,
    ImportResultOut,
    LinkCreate,
    LinkOut,
    OfferCreate,
    OfferOut,
    OperatorPaidIn,
    SettingsIn,
    SettingsPatch,
    SubscriptionIn,
    SubscriptionOut,
    TemplateIn,
    TemplateOut,
    UserIn,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
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
        self, operation: str, *, path: dict[str, int | str] | None = None, **request: Any
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

    async def assign_account(
        self, account_id: int, user: UserIn, *, idempotency_key: str | None = None
    ) -> AccountOut:
        """R4: the account's user is ``user`` (who must have started the bot)."""
        body: AssignIn = {"user": user}
        out: AccountOut = await self._call(
            "assignAccount",
            path={"account_id": account_id},
            json=body,
            idempotency_key=idempotency_key,
        )
        return out

    async def take_back_account(
        self, account_id: int, *, idempotency_key: str | None = None
    ) -> AccountOut:
        out: AccountOut = await self._call(
            "takeBackAccount", path={"account_id": account_id}, idempotency_key=idempotency_key
        )
        return out

    async def set_account_operator_paid(self, account_id: int, paid: bool) -> AccountOut:
        body: OperatorPaidIn = {"paid": paid}
        out: AccountOut = await self._call(
            "setAccountOperatorPaid", path={"account_id": account_id}, json=body
        )
        return out

    async def disable_bulk_accounts(
        self, selection: BulkSelection, *, idempotency_key: str | None = None
    ) -> BulkOut:
        """``{"owner_id": 1001, "group": "unused", "expected_count": 37}``: all or nothing."""
        return await self._bulk("disableBulkAccounts", selection, idempotency_key)

    async def enable_bulk_accounts(
        self, selection: BulkSelection, *, idempotency_key: str | None = None
    ) -> BulkOut:
        return await self._bulk("enableBulkAccounts", selection, idempotency_key)

    async def delete_bulk_accounts(
        self, selection: BulkSelection, *, idempotency_key: str | None = None
    ) -> BulkOut:
        return await self._bulk("deleteBulkAccounts", selection, idempotency_key)

    async def assign_bulk_accounts(
        self, assignments: BulkAssignIn, *, idempotency_key: str | None = None
    ) -> BulkOut:
        """``{"owner_id": 1001, "rows": [{"account_id": 7, "user": 1002}]}`` (or ``csv``)."""
        return await self._bulk("assignBulkAccounts", assignments, idempotency_key)

    async def _bulk(
        self, operation: str, body: BulkSelection | BulkAssignIn, key: str | None
    ) -> BulkOut:
        done: BulkOut = await self._call(operation, json=body, idempotency_key=key)
        return done

    async def create_bulk_links(
        self,
        selection: BulkSelection,
        *,
        lang: str | None = None,
        idempotency_key: str | None = None,
    ) -> BulkLinksOut:
        """Settings links for many accounts, as JSON. (The same operation answers the links'
        CSV or the printable sheet with ``format=csv|pdf``; this method asks for JSON.)"""
        links: BulkLinksOut = await self._call(
            "createBulkLinks",
            params={"format": "json", "lang": lang},
            json=selection,
            idempotency_key=idempotency_key,
        )
        return links

    async def create_link(
        self, owner: UserIn, settings: SettingsIn, *, idempotency_key: str | None = None
    ) -> LinkOut:
        """A new account, handed out by a settings link (R9)."""
        body: LinkCreate = {"owner": owner, "settings": settings}
        link: LinkOut = await self._call("createLink", json=body, idempotency_key=idempotency_key)
        return link

    async def get_link(self, link_id: int) -> LinkOut:
        link: LinkOut = await self._call("getLink", path={"link_id": link_id})
        return link

    async def get_link_qr(self, link_id: int) -> bytes:
        """The link's QR code, a PNG image."""
        response = await self._request("getLinkQr", path={"link_id": link_id})
        return response.content

    async def revoke_link(self, link_id: int) -> None:
        await self._call("revokeLink", path={"link_id": link_id})

    async def list_calls(
        self, *, account_id: int | None = None, before_id: int | None = None, limit: int = 50
    ) -> CallsPage:
        params = {"account_id": account_id, "before_id": before_id, "limit": limit}
        page: CallsPage = await self._call("listCalls", params=params)
        return page

    async def place_call(
        self, account_id: int, number: str, *, idempotency_key: str | None = None
    ) -> CallOut:
        """Click to call: the line's user is called in Telegram, then ``number``."""
        body: CallIn = {"account_id": account_id, "number": number}
        call: CallOut = await self._call("placeCall", json=body, idempotency_key=idempotency_key)
        return call

    async def get_call(self, call_id: int) -> CallOut:
        call: CallOut = await self._call("getCall", path={"call_id": call_id})
        return call

    async def list_templates(self) -> list[TemplateOut]:
        templates: list[TemplateOut] = await self._call("listTemplates")
        return templates

    async def create_template(
        self, template: TemplateIn, *, idempotency_key: str | None = None
    ) -> TemplateOut:
        made: TemplateOut = await self._call(
            "createTemplate", json=template, idempotency_key=idempotency_key
        )
        return made

    async def get_template(self, template_id: str) -> TemplateOut:
        found: TemplateOut = await self._call("getTemplate", path={"template_id": template_id})
        return found

    async def delete_template(self, template_id: str) -> None:
        await self._call("deleteTemplate", path={"template_id": template_id})

    async def get_subscription(self, user_id: int) -> SubscriptionOut:
        found: SubscriptionOut = await self._call("getSubscription", path={"user_id": user_id})
        return found

    async def set_subscription(self, user_id: int, subscription: SubscriptionIn) -> SubscriptionOut:
        """``{"plan": "office", "seats": 10}`` (``add``: keep the user's other plans)."""
        changed: SubscriptionOut = await self._call(
            "setSubscription", path={"user_id": user_id}, json=subscription
        )
        return changed

    async def list_webhooks(self) -> list[WebhookOut]:
        hooks: list[WebhookOut] = await self._call("listWebhooks")
        return hooks

    async def get_webhook(self, webhook_id: int) -> WebhookOut:
        hook: WebhookOut = await self._call("getWebhook", path={"webhook_id": webhook_id})
        return hook

    async def delete_webhook(self, webhook_id: int) -> None:
        await self._call("deleteWebhook", path={"webhook_id": webhook_id})

    async def list_webhook_deliveries(
        self, webhook_id: int, *, limit: int = 50, before_id: int | None = None
    ) -> list[DeliveryOut]:
        deliveries: list[DeliveryOut] = await self._call(
            "listWebhookDeliveries",
            path={"webhook_id": webhook_id},
            params={"limit": limit, "before_id": before_id},
        )
        return deliveries

    async def get_health(self) -> Health:
        health: Health = await self._call("getHealth")
        return health

    async def get_liveness(self) -> dict[str, str]:
        alive: dict[str, str] = await self._call("getLiveness")
        return alive

    async def get_readiness(self) -> Any:
        """Every part of this process ready: its body; a part not ready is 503, raised as
        ``ProblemError`` whose ``problem`` is the body naming the part."""
        return await self._call("getReadiness")

    async def get_metrics(self) -> str:
        """Prometheus' text format."""
        response = await self._request("getMetrics")
        return response.text
