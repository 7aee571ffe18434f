"""Caller accounts' use cases: record one as logged in or connected, forget it at logout, and
list them for the bot ("calls come from @telesip_calls"). One transaction each.
"""

from __future__ import annotations

from telesip.domain.callers import CallerInfo, mask_phone
from telesip.services.dependencies import Dependencies


def caller_info(user_id: int, name: str, username: str | None, phone: str | None) -> CallerInfo:
    """What is stored of an account: its public names, and its phone masked."""
    return CallerInfo(id=user_id, name=name[:128], username=username, phone=mask_phone(phone))


async def record_caller(
    deps: Dependencies, caller: CallerInfo, *, worker_id: int | None = None
) -> None:
    """Name ``caller`` to people; ``worker_id``: a remote worker's own account (it never
    renames the service's accounts or another worker's)."""
    async with deps.uow() as uow:
        await uow.callers.put(caller, uow.now, worker_id)
        await uow.commit()


async def forget_caller(
    deps: Dependencies, caller_id: int, *, worker_id: int | None = None
) -> bool:
    """Stop naming ``caller_id``; a remote worker forgets only its own."""
    async with deps.uow() as uow:
        removed = await uow.callers.remove(caller_id, worker_id)
        await uow.commit()
    return removed


async def caller_accounts(deps: Dependencies) -> list[CallerInfo]:
    async with deps.uow(readonly=True) as uow:
        return await uow.callers.all()
