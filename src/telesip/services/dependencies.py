"""What every use case gets: the unit-of-work factory, the clock, the cipher, the bus and the
few settings the rules depend on. Built once by ``bootstrap``; tests build their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telesip.domain.clock import Clock, SystemClock
from telesip.services.bus import MessageBus
from telesip.store.crypto import Cipher
from telesip.store.db import AsyncEngine
from telesip.store.uow import UnitOfWork


@dataclass(frozen=True)
class Rules:
    offer_ttl_seconds: int = 300
    link_ttl_seconds: int = 7 * 86400
    default_plan: str = "office"
    default_seats: int | None = None
    lease_ttl_seconds: int = 10  # a worker silent this long has lost its accounts
    import_max_rows: int = 20_000  # accounts one import file may hold
    unused_days: int = 30  # no call and no registration change this long: unused (R11)
    disable_unused: bool = False  # the workers disable unused accounts, with a notice


@dataclass
class Dependencies:
    engine: AsyncEngine
    cipher: Cipher
    clock: Clock = field(default_factory=SystemClock)
    rules: Rules = field(default_factory=Rules)
    bus: MessageBus = field(default_factory=MessageBus)

    def uow(self, *, readonly: bool = False, single_statement: bool = False) -> UnitOfWork:
        """A unit of work; ``readonly`` for use cases that only read (no write lock);
        ``single_statement`` for a write that is one atomic statement (on PostgreSQL it
        commits by itself: no BEGIN and COMMIT round trips)."""
        return UnitOfWork(
            self.engine,
            self.cipher,
            self.clock,
            self.bus.publish,
            readonly=readonly,
            single_statement=single_statement,
        )
