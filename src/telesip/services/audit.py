"""Reading the audit log of an account (owner or operator), newest first, keyset-paged."""

from __future__ import annotations

from telesip.domain import errors
from telesip.domain.model import TelegramUser
from telesip.domain.readmodels import AuditRecord
from telesip.services.dependencies import Dependencies


async def account_audit(
    deps: Dependencies,
    actor: TelegramUser | None,
    account_id: int,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[AuditRecord]:
    if not 1 <= limit <= 500:
        raise errors.InvalidInput("limit must be between 1 and 500")
    async with deps.uow(readonly=True) as uow:
        if actor is not None:
            account = await uow.accounts.get(account_id)
            if account is None or account.owner_id != actor.id:
                raise errors.AccountNotFound(account_id=account_id)
        return await uow.audit.of_account(account_id, limit=limit, before_id=before_id)
