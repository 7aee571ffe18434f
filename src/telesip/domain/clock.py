"""Time is passed in: services get a Clock, domain code gets ``now``.

``is_wall_clock`` says whether ``now`` is this process's wall clock, which NTP may step: then
leases are measured on the database's clock instead (``UnitOfWork.lease_time``); a fake clock
(tests) is measured on as it is, unless it plays a wall clock (``FakeClock(wall=True)``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    @property
    def is_wall_clock(self) -> bool: ...

    def now(self) -> datetime: ...


class SystemClock:
    is_wall_clock = True

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand; ``wall=True``: it plays a process's wall clock (stepped by
    ``advance``), which leases must not trust."""

    def __init__(self, start: datetime | None = None, *, wall: bool = False) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self.is_wall_clock = wall

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
