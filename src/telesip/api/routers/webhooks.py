"""Webhooks: register a URL for account events, list, delete, and read the delivery log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from telesip.api import schemas
from telesip.api.auth import Auth
from telesip.api.errors import AUTHED, BODY, created, responses
from telesip.api.schemas import MAX_ID, Id
from telesip.domain import errors
from telesip.domain.readmodels import Webhook
from telesip.services import webhooks

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _out(h: Webhook) -> schemas.WebhookOut:
    return schemas.WebhookOut(
        id=h.id, url=h.url, events=list(h.events), enabled=h.enabled, created_at=h.created_at
    )


@router.post(
    "",
    status_code=201,
    response_model=schemas.WebhookCreated,
    summary="Register",
    operation_id="createWebhook",
    responses=created(responses(*BODY, 409)),
)
async def register(
    ctx: Auth, body: schemas.WebhookIn, response: Response
) -> schemas.WebhookCreated:
    made = await webhooks.register_webhook(
        ctx.deps, ctx.operator, ctx.key.scope, body.url, body.events
    )
    response.headers["Location"] = f"/api/v1/webhooks/{made.webhook.id}"
    return schemas.WebhookCreated(**_out(made.webhook).model_dump(), secret=made.secret)


@router.get(
    "",
    response_model=list[schemas.WebhookOut],
    summary="List webhooks",
    operation_id="listWebhooks",
    responses=responses(*AUTHED),
)
async def list_webhooks(ctx: Auth) -> list[schemas.WebhookOut]:
    return [_out(h) for h in await webhooks.list_webhooks(ctx.deps, ctx.operator)]


@router.get(
    "/{webhook_id:int}",
    response_model=schemas.WebhookOut,
    summary="Read a webhook",
    operation_id="getWebhook",
    responses=responses(*AUTHED, 404, 422),
)
async def get_webhook(ctx: Auth, webhook_id: WebhookId) -> schemas.WebhookOut:
    for h in await webhooks.list_webhooks(ctx.deps, ctx.operator):
        if h.id == webhook_id:
            return _out(h)
    raise errors.WebhookNotFound(webhook_id=webhook_id)


@router.delete(
    "/{webhook_id:int}",
    status_code=204,
    summary="Delete a webhook",
    operation_id="deleteWebhook",
    responses=responses(*AUTHED, 404, 422),
)
async def delete_webhook(ctx: Auth, webhook_id: WebhookId) -> Response:
    await webhooks.delete_webhook(ctx.deps, ctx.operator, webhook_id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id:int}/deliveries",
    response_model=list[schemas.DeliveryOut],
    summary="Delivery log",
    operation_id="listWebhookDeliveries",
    responses=responses(*AUTHED, 404, 422),
)
async def deliveries(
    ctx: Auth,
    webhook_id: WebhookId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before_id: Annotated[Id | None, Query()] = None,
) -> list[schemas.DeliveryOut]:
    found = await webhooks.list_deliveries(
        ctx.deps, ctx.operator, webhook_id, limit=limit, before_id=before_id
    )
    return [
        schemas.DeliveryOut(
            id=d.id,
            delivery_id=d.delivery_id,
            event=d.event,
            account_id=d.account_id,
            state=d.state,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status=d.last_status,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d in found
    ]
