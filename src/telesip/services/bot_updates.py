"""The bot's update journal (issue 18): an update Telegram delivered is written to the database
before Telegram is told it arrived (the webhook's 200; in long polling, the offset of the next
getUpdates), and deleted when its handler ends (``bot/journal.py``). So a bot process that
stops or dies with updates in hand (kill -9 while handlers run; a Telegram outage makes them
wait on Telegram's answers, and the updates pile up) loses none of them: the process that
starts next (or another bot process) takes them over and handles them, oldest first.

A process holds the rows it journaled; it says it is alive every ``TOUCH_S`` (one UPDATE of its
rows), and rows whose holder was silent for ``STALE_S`` are taken over, each by one process.
An update is handled at least once: one whose handler was cut short by the crash runs again,
which the use cases bear (a second Receive is refused as already received; R12).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telesip.services.dependencies import Dependencies

TOUCH_S = 5.0
STALE_S = 20.0  # a restarted bot handles what the killed one held within this + TOUCH_S


async def keep(deps: Dependencies, update: dict[str, Any], holder: str) -> bool:
    """Journal ``update``; False when it is journaled already (Telegram delivered it again)."""
    async with deps.uow() as uow:
        fresh = await uow.bot_updates.keep(int(update["update_id"]), update, holder, uow.now)
        await uow.commit()
    return fresh


async def keep_many(deps: Dependencies, updates: list[tuple[int, bytes]], holder: str) -> set[int]:
    """Journal a batch of updates (``(update_id, the update as JSON)``, one getUpdates's) in
    one transaction; the ids journaled now (the others are journaled already)."""
    async with deps.uow() as uow:
        fresh = await uow.bot_updates.keep_many(updates, holder, uow.now)
        await uow.commit()
    return fresh


async def done_many(deps: Dependencies, update_ids: list[int]) -> None:
    async with deps.uow() as uow:
        await uow.bot_updates.done_many(update_ids)
        await uow.commit()


async def done(deps: Dependencies, update_id: int) -> None:
    async with deps.uow() as uow:
        await uow.bot_updates.done(update_id)
        await uow.commit()


async def touch(deps: Dependencies, holder: str) -> None:
    async with deps.uow() as uow:
        await uow.bot_updates.touch(holder, uow.now)
        await uow.commit()


async def take_over(
    deps: Dependencies, holder: str, *, stale: float = STALE_S, limit: int = 500
) -> list[dict[str, Any]]:
    """Updates left by a holder silent for ``stale`` seconds (it died), now ``holder``'s."""
    async with deps.uow() as uow:
        taken = await uow.bot_updates.take_over(
            holder, uow.now - timedelta(seconds=stale), uow.now, limit
        )
        await uow.commit()
    return taken
