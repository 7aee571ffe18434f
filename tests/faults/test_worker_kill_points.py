"""kill -9 of a worker inside its own units of work (issue 18, items 5 and 6): three workers on
PostgreSQL at a real Kamailio, sampled every 100 ms (``conftest.Watch``). w1 and w3 hold every
account; w2 joins, so they hand it a share. One worker runs through ``tests.faults.stall`` and
freezes at a chosen point of the hand-over; the test waits for the freeze (from then on the
frozen worker counts as not live), kills it with SIGKILL, and starts it again:

  claim@commit        w2's claim of the accounts handed to it, written, not committed (its
                      transaction holds their rows locked until the kill)
  registered@commit   w2 registered them, its first "registered" reports not committed (the
                      givers wait for those before they un-REGISTER)
  release@statement   w1 about to release its excess (the giver frozen mid hand-over)

  claim@commit, long  as claim@commit, left frozen for five TTLs before the kill: past the
                      givers' three-TTL deadline, with the handed-over accounts' rows locked
                      so that no one can claim them (the givers keep them registered and
                      claim them back once the rows are free; they used to un-REGISTER them at
                      the deadline: an 8 s freeze with a 3 s TTL gave a 14 s gap)

Then the invariant holds throughout: no account without a contact at the registrar, none
without a live worker's contact for longer than a takeover (TAKEOVER_BOUND), no double of two
live workers beyond a hand-over's (DOUBLE_BOUND); after the restart each account is leased once
and registered once, in fair shares. About 25 s each: they run with ``FAULTS_ALL_POINTS=1``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from telesip.services.dependencies import Dependencies
from tests.fleet.conftest import held_by, ports

from .conftest import Fleet, Watch, make_accounts

N = 60
TTL = 3.0
DOUBLE_BOUND = 2.0
TAKEOVER_BOUND = TTL + 2.5
POINTS = {  # the point -> the worker frozen, the statement (regular expression), where, how
    # long it stays frozen before the kill (the fault's length)
    "claim@commit": ("w2", r"INSERT INTO leases", "commit", 0.0),
    "claim@commit, long": ("w2", r"INSERT INTO leases", "commit", 5 * TTL),
    "registered@commit": ("w2", r"UPDATE leases SET registered_at", "commit", 0.0),
    "release@statement": ("w1", r"DELETE FROM leases WHERE .*account_id IN", "statement", 0.0),
}

pytestmark = pytest.mark.skipif(
    not os.environ.get("FAULTS_ALL_POINTS"), reason="a minute each: set FAULTS_ALL_POINTS=1"
)


@pytest.mark.parametrize("point", list(POINTS))
async def test_kill_9_inside_a_workers_unit_of_work(
    point: str, pg: Dependencies, watch: Watch, fleet: Fleet, tmp_path: Path
) -> None:
    frozen, match, at, frozen_for = POINTS[point]
    mark = tmp_path / "stalled"
    stall = {"FAULTS_STALL_MATCH": match, "FAULTS_STALL_AT": at, "FAULTS_STALL_MARK": str(mark)}
    watch.logins = list(await make_accounts(pg, watch.kam, N, "kp"))
    fleet.ttl = TTL
    for name in ("w1", "w3"):
        fleet.start(name, None, *((stall, "tests.faults.stall") if name == frozen else ()))
    watch.start()
    await watch.until(watch.each_once, 60, "every account registered exactly once")
    await _shares(pg, watch, {"w1": N // 2, "w3": N // 2})
    fleet.start("w2", None, *((stall, "tests.faults.stall") if frozen == "w2" else ()))
    await watch.until(lambda: mark.exists() and mark.stat().st_size > 0, 60, f"{point} reached")
    began = time.monotonic()
    watch.paused.add(frozen)  # frozen: its contacts are no live worker's
    await asyncio.sleep(frozen_for)  # the fault itself; the watch samples all along
    port = (await ports(pg)).get(frozen)
    fleet.kill(frozen)
    watch.paused.discard(frozen)
    if port is not None:
        watch.dead_ports.add(port)
    await watch.until(watch.each_once, 6 * TTL, "each account registered once after the kill")
    worst = watch.worst(began)
    fleet.start(frozen)
    await _shares(pg, watch, {n: N // 3 for n in ("w1", "w2", "w3")})
    await watch.until(watch.each_once, 10, "each account registered once after the restart")
    overall = watch.worst(began)
    print(f"{point} ({mark.read_text()[:60]!r}): gap {worst.gap:.1f} s, double "
          f"{worst.double:.2f} s after the kill; with the restart: gap {overall.gap:.1f} s, "
          f"double {overall.double:.2f} s")  # fmt: skip
    assert overall.bare == 0, "an account had no contact at all at the registrar"
    assert overall.gap <= TAKEOVER_BOUND, f"{overall.gap_login}: no live contact {overall.gap} s"
    assert overall.double <= DOUBLE_BOUND, f"{overall.double_login}: {overall.double:.2f} s"


async def _shares(pg: Dependencies, watch: Watch, want: dict[str, int]) -> None:
    """Until the named workers hold these many leases each (one either way), all N leased."""
    deadline = time.monotonic() + 40
    while True:
        held = {n: len(await held_by(pg, n)) for n in want}
        if sum(held.values()) == N and all(abs(held[n] - want[n]) <= 1 for n in want):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not {want} within 40 s: {held}\n{watch.fleet.logs()}")
        await asyncio.sleep(0.1)
