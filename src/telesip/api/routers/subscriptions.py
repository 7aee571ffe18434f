"""Subscriptions (R11): set a Telegram user's plan and seats; read them with usage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from telesip.api import schemas
from telesip.api.auth import Auth
from telesip.api.errors import AUTHED, BODY, responses
from telesip.api.schemas import MAX_ID
from telesip.domain.model import TelegramUser
from telesip.services import billing

router = APIRouter(prefix="/users", tags=["subscriptions"])
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _out(view: billing.SubscriptionView) -> schemas.SubscriptionOut:
    e = view.entitlements
    return schemas.SubscriptionOut(
        user_id=view.user_id,
        subscriptions=[schemas.PlanOut(plan=s.plan, seats=s.seats) for s in view.subscriptions],
        entitlements=schemas.EntitlementsOut(
            seat_limit=e.seat_limit,
            seats_used=e.seats_used,
            start_limit=e.start_limit,
            start_used=e.start_used,
            can_assign=e.can_assign,
        ),
    )


@router.put(
    "/{user_id:int}/subscription",
    response_model=schemas.SubscriptionOut,
    summary="Set plan and seats",
    operation_id="setSubscription",
    responses=responses(*BODY, 403, 404, 409),
)
async def set_subscription(
    ctx: Auth, user_id: UserId, body: schemas.SubscriptionIn
) -> schemas.SubscriptionOut:
    ctx.require_user(user_id)
    names = body.user or schemas.UserNamesIn()
    user = TelegramUser(user_id, names.first_name, names.username, names.language_code)
    return _out(await billing.set_subscription(ctx.deps, user, body.plan, body.seats, add=body.add))


@router.get(
    "/{user_id:int}/subscription",
    response_model=schemas.SubscriptionOut,
    summary="Plans and usage",
    operation_id="getSubscription",
    responses=responses(*AUTHED, 403, 404, 422),
)
async def show_subscription(ctx: Auth, user_id: UserId) -> schemas.SubscriptionOut:
    ctx.require_user(user_id)
    return _out(await billing.show_subscriptions(ctx.deps, user_id))
