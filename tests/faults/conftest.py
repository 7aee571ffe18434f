"""The fault-injection suite's rig: three worker processes on PostgreSQL, a real Kamailio whose
location table is the truth, sampled every 100 ms while a fault is injected.

``Watch`` records, for every account at every sample, which contacts Kamailio holds and which of
them belong to a *live* worker (its process runs, is not stopped with SIGSTOP, and has not been
killed). ``Watch.worst`` then gives the longest run of samples in which an account had no live
contact (a gap), no contact at all (the registrar's view), or two live ones (a double).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import and_, func, select

from telesip.domain.model import TelegramUser
from telesip.services import accounts, billing
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t
from tests.bot.conftest import fake  # noqa: F401  (a fixture)
from tests.faults.proxy import Proxy as Proxy
from tests.fleet.conftest import (  # noqa: F401  (fixtures)
    Fleet,
    Kamailio,
    contact_port,
    fleet,
    kamailio,
    pg,
    ports,
    sip_for,
    tls_cert,
)

OWNER = TelegramUser(5101, "Operator")
SAMPLE = 0.1


@dataclass
class Sample:
    at: float
    all: dict[str, int]  # login -> contacts at the registrar
    live: dict[str, int]  # login -> contacts of live workers


@dataclass
class Worst:
    gap: float = 0.0  # longest time an account had no live worker's contact
    bare: float = 0.0  # longest time an account had no contact at all (the registrar's view)
    double: float = 0.0  # longest time an account had two live workers' contacts
    gap_login: str = ""
    double_login: str = ""
    gap_at: float = 0.0  # when the longest gap began (monotonic)


@dataclass
class Watch:
    """Samples Kamailio's location table every 100 ms (see the module docstring)."""

    kam: Kamailio
    deps: Dependencies

    fleet: Fleet
    logins: list[str]
    paused: set[str] = field(default_factory=set)
    dead_ports: set[int] = field(default_factory=set)
    samples: list[Sample] = field(default_factory=list)
    known: set[tuple[str, int]] = field(default_factory=set)  # (worker, port) ever seen
    shares: dict[str, int] = field(default_factory=dict)  # live worker -> leases it holds
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            self.known |= {(n, p) for n, p in (await ports(self.deps)).items()}
            live = {
                port
                for name, port in self.known
                if name in self.fleet.procs
                and self.fleet.procs[name].poll() is None
                and name not in self.paused
                and port not in self.dead_ports
            }
            self.shares = await _shares(self.deps)
            bindings = await asyncio.to_thread(self.kam.bindings)
            all_, alive = {}, {}
            for login in self.logins:
                contacts = [contact_port(c["Address"]) for c in bindings.get(login, [])]
                all_[login] = len(contacts)
                alive[login] = sum(1 for p in contacts if p in live)
            self.samples.append(Sample(started, all_, alive))
            await asyncio.sleep(max(0.0, SAMPLE - (time.monotonic() - started)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def worst(
        self, since: float = 0.0, until: float = float("inf"), logins: list[str] | None = None
    ) -> Worst:
        """The longest runs over the samples taken in [since, until) (of ``logins`` only)."""
        picked = [x for x in self.samples if since <= x.at < until]
        out = Worst()
        ats = [x.at for x in picked]
        for login in self.logins if logins is None else logins:
            gap, gap_at = _longest(ats, [x.live[login] == 0 for x in picked])
            bare, _ = _longest(ats, [x.all[login] == 0 for x in picked])
            double, _ = _longest(ats, [x.live[login] > 1 for x in picked])
            if gap > out.gap:
                out.gap, out.gap_login, out.gap_at = gap, login, gap_at
            out.bare = max(out.bare, bare)
            if double > out.double:
                out.double, out.double_login = double, login
        return out

    def each_once(self) -> bool:
        last = self.samples[-1] if self.samples else None
        return last is not None and all(last.live[u] == 1 for u in self.logins)

    async def until(self, cond, within: float, what: str) -> float:  # type: ignore[no-untyped-def]
        start = time.monotonic()
        while not self.samples or self.samples[-1].at < start or not cond():
            if time.monotonic() - start > within:
                raise AssertionError(f"not within {within}s: {what}\n{self.fleet.logs()}")
            await asyncio.sleep(SAMPLE)
        return time.monotonic() - start


def _longest(ats: list[float], bad: list[bool]) -> tuple[float, float]:
    """The longest time from a bad sample to the next good one (a bad last sample counts
    one sampling period), and when it began."""
    longest, at_longest, began = 0.0, 0.0, None
    for at, is_bad in zip(ats, bad, strict=True):
        if is_bad:
            if began is None:
                began = at
        elif began is not None:
            if at - began > longest:
                longest, at_longest = at - began, began
            began = None
    if began is not None and ats[-1] - began + SAMPLE > longest:
        longest, at_longest = ats[-1] - began + SAMPLE, began
    return longest, at_longest


async def _shares(deps: Dependencies) -> dict[str, int]:
    w, le = t.workers, t.leases
    async with deps.engine.connect() as conn:
        rows = await conn.execute(
            select(w.c.name, func.count(le.c.account_id))
            .select_from(
                w.outerjoin(le, and_(le.c.worker_id == w.c.id, le.c.instance == w.c.instance))
            )
            .where(w.c.instance.is_not(None))
            .group_by(w.c.name)
        )
        return {str(r[0]): int(r[1]) for r in rows}


async def make_accounts(deps: Dependencies, kam: Kamailio, n: int, prefix: str) -> dict[str, int]:
    """``n`` accounts at ``kam``: login -> account id."""
    await billing.set_subscription(deps, OWNER, "office", -1)
    made = {}
    for login in (f"{prefix}{i}" for i in range(n)):
        made[login] = await accounts.create_account(deps, OWNER, sip_for(kam, login, expires=30))
    return made


@pytest.fixture
async def watch(pg: Dependencies, kamailio: Kamailio, fleet: Fleet) -> AsyncIterator[Watch]:  # noqa: F811
    w = Watch(kamailio, pg, fleet, [])
    yield w
    await w.stop()
    for name in list(w.paused):
        with contextlib.suppress(ProcessLookupError):
            os.kill(fleet.procs[name].pid, signal.SIGCONT)
