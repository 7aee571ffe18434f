"""DatabaseClock: this process's ``now`` on the PostgreSQL server's clock (issue 18).

Several processes (bots, APIs, workers, on several machines) share one database, and the
times they write must be compared on one clock: an offer made by one process and received by
another lives its five minutes as the database measures them, a worker's "seen 3 s ago" is
the database's ``now()`` minus the heartbeat it wrote with ``now()``. The process's wall clock
is not that clock, and NTP may step it an hour while the process runs.

So ``now()`` is the server's time at the last synchronisation plus the monotonic time since
(steps of the wall clock do not move it): ``sync()`` reads ``SELECT now()`` once, taking the
middle of the round trip (its error is at most half of it, a few milliseconds on a LAN), and
``keep_in_sync`` repeats it every ``RESYNC_S`` so a step of the server's own clock, or a
suspended machine whose monotonic clock stood still, is followed within that time. Reading
``now()`` costs no round trip: the transfer cycle's statements stay as they are. Before the
first ``sync()`` (or while the database cannot be reached at all) it reads the wall clock.

On SQLite the database is a file of this machine, whose one clock every process shares: the
plain ``SystemClock`` stays (``bootstrap.build_services``). Leases keep reading the server's
time inside their own statements (``UnitOfWork.lease_time``: ``is_wall_clock`` stays true).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["RESYNC_S", "DatabaseClock"]

log = logging.getLogger(__name__)
RESYNC_S = 30.0


class DatabaseClock:
    """The PostgreSQL server's clock, read once per ``RESYNC_S`` and carried on by the
    monotonic clock in between (see the module docstring)."""

    is_wall_clock = True  # leases still use the server's now() inside their statements

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._monotonic = monotonic
        self._wall = wall
        self._anchor: datetime | None = None  # the server's time at _anchored (monotonic)
        self._anchored = 0.0

    @property
    def synced(self) -> bool:
        return self._anchor is not None

    def now(self) -> datetime:
        if self._anchor is None:
            return self._wall()
        return self._anchor + timedelta(seconds=self._monotonic() - self._anchored)

    async def sync(self) -> None:
        """Read the server's clock once (one ``SELECT now()``); raises what the engine raises."""
        async with self._engine.connect() as conn:
            sent = self._monotonic()
            server = (await conn.execute(text("SELECT now()"))).scalar_one()
            back = self._monotonic()
        if server.tzinfo is None:
            server = server.replace(tzinfo=UTC)
        self._anchor = server.astimezone(UTC)
        self._anchored = (sent + back) / 2

    async def keep_in_sync(self, every: float = RESYNC_S) -> None:
        """Synchronise every ``every`` seconds until cancelled; a failed read keeps the last
        anchor (the monotonic clock carries on) and is tried again at the next turn."""
        while True:
            try:
                await self.sync()
            except (SQLAlchemyError, OSError) as exc:
                log.debug("database clock not read: %s", type(exc).__name__)
            await asyncio.sleep(every)
