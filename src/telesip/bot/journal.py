"""One bot process's side of the update journal (``services.bot_updates``), for the webhook and
for long polling alike: an update is journaled before Telegram is told it arrived (the webhook's
200, or the next getUpdates's offset), and forgotten when its handler has ended. So a process
killed with updates in hand (kill -9, a crash, a deploy) loses none of them: the process that
runs next takes over what a silent holder left and handles each once.

A database that does not answer: the webhook answers Telegram 503 (it delivers the update again
later); long polling handles the update without a journal row (its handler meets the same
database and answers "try again in a moment"), so the bot does not fall silent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from telesip.domain.errors import TelesipError
from telesip.services import bot_updates
from telesip.services.dependencies import Dependencies

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, deps: Dependencies) -> None:
        self.deps = deps
        self.holder = uuid.uuid4().hex  # this process: its rows are not taken over while it lives
        self.closing = False  # stopping: what is not handled yet stays journaled
        self._undeleted: set[int] = set()  # handled, but the database missed the delete
        self._done: list[int] = []  # handled, to be deleted by the forgetter
        self._forgetter: asyncio.Task[None] | None = None

    async def keep(self, update: dict[str, Any]) -> bool:
        """Journal ``update`` (raises ``TelesipError`` when the database does not answer);
        False when it is journaled already: Telegram delivered it again, and its first copy is
        in hand here or will be taken over from the process that died holding it."""
        return await bot_updates.keep(self.deps, update, self.holder)

    async def keep_many(self, updates: list[dict[str, Any]]) -> set[int]:
        """Journal a batch of updates (one getUpdates's) in one transaction; the ids journaled
        now (raises ``TelesipError`` when the database does not answer)."""
        return await self.keep_serialized(
            [(int(u["update_id"]), json.dumps(u, separators=(",", ":")).encode()) for u in updates]
        )

    async def keep_serialized(self, updates: list[tuple[int, bytes]]) -> set[int]:
        """``keep_many`` of updates already serialized: ``(update_id, the update as JSON)``
        (aiogram's ``Update.model_dump_json``, which costs a fraction of a dump to a dict
        and then to JSON)."""
        return await bot_updates.keep_many(self.deps, updates, self.holder)

    async def forget(self, update_id: int) -> None:
        """Its handler ended (not cut short by a stop). The row is deleted by the forgetter,
        with those of every other handler that ended in the same turn of the loop or while the
        previous delete waited for the database: one transaction for many when the bot is
        busy, at once when it is not."""
        if self.closing:
            return
        self._done.append(update_id)
        if self._forgetter is None:
            self._forgetter = asyncio.create_task(self._forget_done(), name="telesip-journal")

    async def _forget_done(self) -> None:
        try:
            while self._done:
                await asyncio.sleep(0)  # the handlers ending in this turn of the loop join
                done, self._done = self._done, []
                try:
                    await bot_updates.done_many(self.deps, done)
                except TelesipError:
                    self._undeleted.update(done)  # ``maintain`` deletes them later
        finally:
            self._forgetter = None

    async def settle(self) -> None:
        """Wait for the rows of the handled updates to be deleted (a stopping process)."""
        while self._forgetter is not None:
            await asyncio.shield(self._forgetter)

    async def maintain(self, start: Callable[[dict[str, Any]], None]) -> None:
        """Until cancelled: say this process is alive (its rows are not taken over), delete what
        it handled while the database was away, and take over the updates a process that died
        left behind, handing each to ``start`` (at once, then every ``bot_updates.TOUCH_S``)."""
        while True:
            try:
                await bot_updates.touch(self.deps, self.holder)
                for update_id in list(self._undeleted):
                    await bot_updates.done(self.deps, update_id)
                    self._undeleted.discard(update_id)
                left = await bot_updates.take_over(
                    self.deps, self.holder, stale=bot_updates.STALE_S
                )
                if left:
                    log.info("handling %d updates a stopped bot process left", len(left))
                for update in left:
                    start(update)
            except TelesipError as exc:
                log.warning("update journal: %s", exc)
            await asyncio.sleep(bot_updates.TOUCH_S)
