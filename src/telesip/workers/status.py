"""StatusFeed: hands RegistrationReport changes to the async status sink, in order, off the
SIP path. One consumer task; a sink that raises is counted and logged, and one deadline per
batch bounds a sink that hangs, so storage trouble never stalls registrations."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from telesip.domain.model import RegistrationReport

from .stats import ManagerStats

__all__ = ["StatusFeed", "StatusSink"]

log = logging.getLogger(__name__)
StatusSink = Callable[[RegistrationReport], Awaitable[None]]


class StatusFeed:
    def __init__(
        self, sink: StatusSink | None, stats: ManagerStats, deadline: float = 10.0
    ) -> None:
        self._sink = sink
        self._stats = stats
        self._deadline = deadline
        # a deque and two events, not an asyncio.Queue: put() is on the SIP path (twice per
        # registration), and a Queue's per-item futures and counters cost more than the rest
        self._items: deque[RegistrationReport] = deque()
        self._ready = asyncio.Event()  # items are waiting
        self._unfinished = 0
        self._drained = asyncio.Event()  # nothing put is still undelivered
        self._drained.set()

    def put(self, status: RegistrationReport) -> None:
        if self._sink is not None:
            self._items.append(status)
            self._unfinished += 1
            if self._unfinished == 1:
                self._drained.clear()
            self._ready.set()

    async def join(self) -> None:
        await self._drained.wait()

    async def run(self) -> None:
        items = self._items
        while True:
            if not items:
                self._ready.clear()
                await self._ready.wait()
                continue
            batch = [items.popleft() for _ in range(min(len(items), 256))]
            pending = iter(batch)
            try:
                async with asyncio.timeout(self._deadline):
                    for status in pending:
                        await self._deliver(status)
            except TimeoutError:
                lost = 1 + sum(1 for _ in pending)
                self._stats.sink_errors += lost
                log.error("status sink timed out: %d status changes not written", lost)
            self._unfinished -= len(batch)
            if not self._unfinished:
                self._drained.set()

    async def _deliver(self, status: RegistrationReport) -> None:
        try:
            if self._sink is not None:
                await self._sink(status)
        except Exception:
            self._stats.sink_errors += 1
            log.exception("status sink failed for account %s", status.account_id)
