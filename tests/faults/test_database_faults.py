"""The database goes away (issue 18, item 2): worker processes reach PostgreSQL through a proxy
the test cuts (every connection closed, new ones refused, as while the server restarts).

Documented bounds (docs/workers.md): a worker keeps refreshing its registrations for the lease
TTL + the grace (TELESIP_LEASE_GRACE_SECONDS; 2 s here) after its last heartbeat, retries with
capped exponential backoff and jitter, says so in its log and in
``telesip_database_unreachable_total``, and takes its leases up again when the database answers.
"""

from __future__ import annotations

import asyncio
import time

from telesip.services.dependencies import Dependencies
from tests.fleet.conftest import held_by

from .conftest import Fleet, Proxy, Watch, make_accounts

N = 90
TTL = 3.0
GRACE = 2.0
DOUBLE_BOUND = 2.0


async def _fleet(watch: Watch, fleet: Fleet, pg: Dependencies, proxy: Proxy, via: set[str]) -> None:
    await proxy.start()
    watch.logins = await make_accounts(pg, watch.kam, N, f"db{len(via)}x")
    fleet.ttl = TTL
    for name in ("w1", "w2", "w3"):
        fleet.start(name, proxy.url(fleet.url) if name in via else None)
    watch.start()
    await watch.until(watch.each_once, 60, "every account registered exactly once")
    await watch.until(lambda: _fair(watch), 20, "a fair share each")


def _fair(watch: Watch) -> bool:
    return bool(watch.shares) and all(abs(v - N / 3) <= 2 for v in watch.shares.values())


async def test_a_database_restart_is_ridden_out_and_a_long_outage_recovers(
    pg: Dependencies, watch: Watch, fleet: Fleet
) -> None:
    proxy = Proxy(("127.0.0.1", int(pg.engine.url.port or 5432)))
    try:
        await _fleet(watch, fleet, pg, proxy, {"w1", "w2", "w3"})
        # a restart well within the TTL: no account loses its registration (a worker that
        # comes back late may see another take its accounts: a hand-over's double at most)
        cut = time.monotonic()
        proxy.cut()
        await asyncio.sleep(TTL / 3)
        proxy.restore()
        await watch.until(
            lambda: fleet.logs().count("the database answers again") >= 3, 20, "reconnected"
        )
        short = watch.worst(cut)
        print(f"short outage: gap {short.gap:.2f} s, double {short.double:.2f} s")
        assert short.bare == 0 and short.gap == 0 and short.double <= DOUBLE_BOUND
        assert fleet.logs().count("the database is unreachable") >= 3

        # longer than TTL + grace: kept at least the TTL, then dropped, then all back
        cut = time.monotonic()
        proxy.cut()
        await asyncio.sleep(3 * TTL)
        proxy.restore()
        back = await watch.until(watch.each_once, 6 * TTL, "every account registered again")
        kept = watch.worst(cut, cut + TTL)
        overall = watch.worst(cut)
        print(f"outage of {3 * TTL:.0f} s: all registered again {back:.1f} s after the restore, "
              f"longest gap {overall.gap:.1f} s, double {overall.double:.2f} s")  # fmt: skip
        assert kept.gap == 0, "registrations dropped before the lease TTL had passed"
        assert overall.double <= DOUBLE_BOUND
        assert back <= 2 * TTL, "the workers did not take their leases up again at once"
        await watch.until(lambda: _fair(watch), 6 * TTL, "a fair share each again")
    finally:
        await proxy.close()


async def test_a_worker_cut_off_from_the_database_gives_way_without_a_gap(
    pg: Dependencies, watch: Watch, fleet: Fleet
) -> None:
    """A partition: only w2 loses the database. It keeps its registrations for TTL + grace,
    the others take them over after the TTL (a double of at most the grace), and once back it
    takes a share again with no gap."""
    proxy = Proxy(("127.0.0.1", int(pg.engine.url.port or 5432)))
    try:
        await _fleet(watch, fleet, pg, proxy, {"w2"})
        cut = time.monotonic()
        proxy.cut()
        await asyncio.sleep(3 * TTL)
        assert not await held_by(pg, "w2"), "the others took its accounts over"
        proxy.restore()
        await watch.until(lambda: _fair(watch), 6 * TTL, "w2 has a share again")
        await watch.until(watch.each_once, 10, "exactly once")
        worst = watch.worst(cut)
        print(f"partition: gap {worst.gap:.2f} s (+{worst.gap_at - cut:.1f} s), "
              f"double {worst.double:.2f} s")  # fmt: skip
        if worst.gap:
            print(fleet.logs())
        assert worst.bare == 0 and worst.gap == 0, f"{worst.gap_login}: a gap"
        assert worst.double <= GRACE + DOUBLE_BOUND, f"{worst.double_login}: {worst.double:.1f} s"
    finally:
        await proxy.close()
