"""StatusFeed: hands RegistrationStatus changes to the async status sink, in order, off the
SIP path. One consumer task; a sink that raises is counted and logged, and one deadline per
batch bounds a sink that hangs, so storage trouble never stalls registrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .accounts import ManagerStats, RegistrationStatus

__all__ = ["StatusFeed", "StatusSink"]

log = logging.getLogger("telesip.sip.manager")
StatusSink = Callable[[RegistrationStatus], Awaitable[None]]


class StatusFeed:
    def __init__(
        self, sink: StatusSink | None, stats: ManagerStats, deadline: float = 10.0
    ) -> None:
        self._sink = sink
        self._stats = stats
        self._deadline = deadline
        self._queue: asyncio.Queue[RegistrationStatus] = asyncio.Queue()

    def put(self, status: RegistrationStatus) -> None:
        if self._sink is not None:
            self._queue.put_nowait(status)

    async def join(self) -> None:
        await self._queue.join()

    async def run(self) -> None:
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < 256:
                batch.append(queue.get_nowait())
            pending = iter(batch)
            try:
                async with asyncio.timeout(self._deadline):
                    for status in pending:
                        await self._deliver(status)
            except TimeoutError:
                lost = 1 + sum(1 for _ in pending)
                self._stats.sink_errors += lost
                log.error("status sink timed out: %d status changes not written", lost)
            for _ in batch:
                queue.task_done()

    async def _deliver(self, status: RegistrationStatus) -> None:
        try:
            if self._sink is not None:
                await self._sink(status)
        except Exception:
            self._stats.sink_errors += 1
            log.exception("status sink failed for account %s", status.account_id)
