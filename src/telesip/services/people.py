"""People as the bot sees them: who someone is, their language, what they may offer.

Read-mostly helpers the Telegram bot needs around the account use cases (notifications in the
right language, the inline transfer flow finding its offer by the inline message). Each is one
short transaction; the rules stay in the other service modules.
"""

from __future__ import annotations

from dataclasses import dataclass

from telesip.domain import errors
from telesip.domain.model import Method, Role, TelegramUser
from telesip.domain.plans import Entitlements
from telesip.domain.readmodels import AccountSummary
from telesip.services import billing
from telesip.services.common import ensure_user, entitlements
from telesip.services.dependencies import Dependencies


async def remember(deps: Dependencies, user: TelegramUser) -> None:
    """Make sure the person is known (first contact gets the default plan)."""
    async with deps.uow() as uow:
        await ensure_user(deps, uow, user)
        await uow.commit()


async def get_user(deps: Dependencies, user_id: int) -> TelegramUser | None:
    async with deps.uow() as uow:
        return await uow.users.get(user_id)


async def subscriptions_of(deps: Dependencies, actor: TelegramUser) -> billing.SubscriptionView:
    """The caller's own plans and usage (known or not yet)."""
    await remember(deps, actor)
    return await billing.show_subscriptions(deps, actor.id)


@dataclass(frozen=True)
class TransferChoice:
    """What the owner may do with the Transfer button: the account and the allowed methods."""

    account: AccountSummary
    methods: tuple[Method, ...]


async def transfer_choices(
    deps: Dependencies, actor: TelegramUser, account_id: int
) -> TransferChoice:
    """R3/R4/R6: the methods the owner's plan allows for this account (owner only)."""
    async with deps.uow() as uow:
        summary = await uow.accounts.summary(account_id)
        if summary is None or summary.owner_id != actor.id:
            if summary is not None and summary.user_id == actor.id:
                raise errors.AssignedUserLimit(account_id=account_id)
            raise errors.AccountNotFound(account_id=account_id)
        if summary.via_link:
            raise errors.InvalidInput(
                f"SIP account #{account_id} is handed out by a settings link; manage it in /links."
            )
        ent: Entitlements = await entitlements(uow, actor.id, lock=False)
    methods = (Method.ASSIGN, Method.UNLINK) if ent.can_assign else (Method.UNLINK,)
    return TransferChoice(summary, methods)


async def role_on(deps: Dependencies, actor: TelegramUser, account_id: int) -> Role:
    """The caller's role on an account; strangers learn nothing (AccountNotFound)."""
    async with deps.uow() as uow:
        summary = await uow.accounts.summary(account_id)
    if summary is None:
        raise errors.AccountNotFound(account_id=account_id)
    if summary.owner_id == actor.id:
        return Role.OWNER
    if summary.user_id == actor.id:
        return Role.USER
    raise errors.AccountNotFound(account_id=account_id)
