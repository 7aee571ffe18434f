"""Subscriptions (R11): the operator sets plans and seats; anyone may see their own usage."""

from __future__ import annotations

from dataclasses import dataclass

from telesip.domain import errors
from telesip.domain.model import TelegramUser
from telesip.domain.plans import Entitlements, Subscription, get_plan
from telesip.services.common import ensure_user, entitlements
from telesip.services.dependencies import Dependencies


@dataclass(frozen=True)
class SubscriptionView:
    user_id: int
    subscriptions: list[Subscription]
    entitlements: Entitlements


async def set_subscription(
    deps: Dependencies,
    user: TelegramUser,
    plan: str,
    seats: int | None = None,
    *,
    add: bool = False,
) -> SubscriptionView:
    """Give ``user`` ``plan`` with ``seats`` (None: the plan's default; -1: unlimited).

    Replaces the user's other plans unless ``add`` (several tariffs may run at once, R11).
    Accounts already connected stay; only new ones are checked against the new seats.
    """
    p = get_plan(plan)
    if seats is not None and seats < -1:
        raise errors.InvalidInput("seats must be 0 or more, or -1 for unlimited")
    value = p.default_seats if seats is None else (None if seats == -1 else seats)
    async with deps.uow() as uow:
        await ensure_user(deps, uow, user)
        await uow.users.lock(user.id)
        if not add:
            await uow.users.clear_subscriptions(user.id)
        await uow.users.set_subscription(user.id, p.name, value, uow.now)
        await uow.record(
            "subscription_set", None, None, {"user_id": user.id, "plan": p.name, "seats": value}
        )
        await uow.commit()
    return await show_subscriptions(deps, user.id)


async def remove_subscription(deps: Dependencies, user_id: int, plan: str) -> None:
    get_plan(plan)
    async with deps.uow() as uow:
        await uow.users.lock(user_id)
        if await uow.users.get(user_id) is None:
            raise errors.UserNotFound(user_id=user_id)
        if not await uow.users.remove_subscription(user_id, plan):
            raise errors.InvalidInput(f"user {user_id} has no {plan!r} subscription")
        await uow.record("subscription_removed", None, None, {"user_id": user_id, "plan": plan})
        await uow.commit()


async def show_subscriptions(deps: Dependencies, user_id: int) -> SubscriptionView:
    async with deps.uow(readonly=True) as uow:
        if await uow.users.get(user_id) is None:
            raise errors.UserNotFound(user_id=user_id)
        subs = await uow.users.subscriptions(user_id)
        ent = await entitlements(uow, user_id, lock=False)
    return SubscriptionView(user_id, subs, ent)
