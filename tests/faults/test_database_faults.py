"""The database goes away (issue 18, item 2): worker processes reach PostgreSQL through a proxy
the test cuts (every connection closed, new ones refused, as while the server restarts).

Documented rule (docs/workers.md, "The database goes away"): a worker keeps refreshing what it
holds while the database is away (for the whole outage by default, or the lease TTL +
TELESIP_LEASE_GRACE_SECONDS after its last heartbeat when that is set), retries with capped
exponential backoff and jitter, says so in its log and in ``telesip_database_unreachable_total``;
back, it keeps the leases still its own, lets go of the ones taken once their taker has them,
and claims nothing for a TTL, so an outage of the whole fleet moves no lease at all.
"""

from __future__ import annotations

import asyncio
import os
import time

from telesip.services.dependencies import Dependencies
from tests.fleet.conftest import held_by

from .conftest import Fleet, Proxy, Watch, make_accounts

N = 90
TTL = 3.0
GRACE = 2.0
DOUBLE_BOUND = 2.0


async def _fleet(
    watch: Watch,
    fleet: Fleet,
    pg: Dependencies,
    proxy: Proxy,
    via: set[str],
    ttl: float = TTL,
    env: dict[str, dict[str, str]] | None = None,
) -> dict[str, int]:
    """Three workers, those in ``via`` through the proxy (``env``: more environment for some);
    returns login -> account id."""
    await proxy.start()
    made = await make_accounts(pg, watch.kam, N, f"db{len(via)}x")
    watch.logins = list(made)
    fleet.ttl = ttl
    for name in ("w1", "w2", "w3"):
        url = proxy.url(fleet.url) if name in via else None
        fleet.start(name, url, (env or {}).get(name))
    watch.start()
    await watch.until(watch.each_once, 60, "every account registered exactly once")
    await watch.until(lambda: _fair(watch), 20, "a fair share each")
    return made


def _fair(watch: Watch) -> bool:
    return bool(watch.shares) and all(abs(v - N / 3) <= 2 for v in watch.shares.values())


async def test_a_database_restart_is_ridden_out(
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
    finally:
        await proxy.close()


async def test_a_database_cut_longer_than_ttl_and_grace_keeps_every_registration(
    pg: Dependencies, watch: Watch, fleet: Fleet
) -> None:
    """The database away for the whole fleet for longer than TTL + the old default grace: no
    gap and no double, and on its return every worker still holds the very accounts it held
    (nobody can take a lease while the database is away for everyone, and a worker back from
    an outage claims nothing for a TTL, so the others' heartbeats come back first).
    ``FAULTS_DB_TTL`` / ``FAULTS_DB_CUT`` run it with the defaults' figures (10 s, 35 s)."""
    ttl = float(os.environ.get("FAULTS_DB_TTL", TTL))
    length = float(os.environ.get("FAULTS_DB_CUT", 4 * ttl))
    proxy = Proxy(("127.0.0.1", int(pg.engine.url.port or 5432)))
    try:
        await _fleet(watch, fleet, pg, proxy, {"w1", "w2", "w3"}, ttl=ttl)
        before = {n: await held_by(pg, n) for n in ("w1", "w2", "w3")}
        cut = time.monotonic()
        proxy.cut()
        await asyncio.sleep(length)
        proxy.restore()
        back = time.monotonic()
        await watch.until(
            lambda: fleet.logs().count("the database answers again") >= 3, 6 * ttl, "reconnected"
        )
        await asyncio.sleep(2 * ttl)  # a claim after the return would come within this
        await watch.until(watch.each_once, 6 * ttl, "every account registered exactly once")
        worst = watch.worst(cut)
        after = {n: await held_by(pg, n) for n in ("w1", "w2", "w3")}
        print(f"database cut {length:.0f} s (TTL {ttl:.0f} s): longest gap {worst.gap:.1f} s "
              f"({worst.gap_login or '-'}), bare {worst.bare:.1f} s, "
              f"double {worst.double:.1f} s; leases moved: "
              f"{sum(len(before[n] ^ after[n]) for n in before) // 2}")  # fmt: skip
        assert worst.bare == 0 and worst.gap == 0, f"{worst.gap_login}: a gap of {worst.gap:.1f} s"
        assert worst.double == 0, f"{worst.double_login}: a double of {worst.double:.1f} s"
        assert after == before, "a lease moved although every worker lived"
        assert time.monotonic() - back < 20 * ttl
    finally:
        await proxy.close()


async def test_workers_cut_off_from_the_database_give_way_without_a_gap(
    pg: Dependencies, watch: Watch, fleet: Fleet
) -> None:
    """A partition: w2 and w3 lose the database, w1 keeps it and takes their accounts over
    after the TTL. w2, with a grace of 2 s, stops its registrations at TTL + grace (a double
    of at most the grace); w3, without one (the default), keeps them until the database
    answers, then finds its leases taken and un-REGISTERs each once its taker has it: a double
    for the partition, ended within a hand-over's bound of the return. No gap on either."""
    proxy = Proxy(("127.0.0.1", int(pg.engine.url.port or 5432)))
    try:
        grace = {"w2": {"TELESIP_LEASE_GRACE_SECONDS": str(GRACE)}}
        made = await _fleet(watch, fleet, pg, proxy, {"w2", "w3"}, env=grace)
        had = {n: await held_by(pg, n) for n in ("w2", "w3")}
        of = {n: [login for login, i in made.items() if i in had[n]] for n in had}
        cut = time.monotonic()
        proxy.cut()
        await asyncio.sleep(3 * TTL)
        assert len(await held_by(pg, "w1")) == N, "w1 took every account over"
        proxy.restore()
        back = time.monotonic()
        await watch.until(lambda: _fair(watch), 6 * TTL, "a share each again")
        await watch.until(watch.each_once, 10, "exactly once")
        worst, fenced, kept = watch.worst(cut), watch.worst(cut, back, of["w2"]), watch.worst(back)
        print(f"partition: gap {worst.gap:.2f} s ({worst.gap_login or '-'}); w2 (grace "
              f"{GRACE:.0f} s) double {fenced.double:.2f} s; w3 (no grace) double "
              f"{watch.worst(cut, back, of['w3']).double:.1f} s before the return, "
              f"{kept.double:.2f} s after it")  # fmt: skip
        if worst.gap:
            print(fleet.logs())
        assert worst.bare == 0 and worst.gap == 0, f"{worst.gap_login}: a gap"
        assert fenced.double <= GRACE + DOUBLE_BOUND, f"{fenced.double_login}: {fenced.double:.1f}"
        assert watch.worst(back - 0.5, back, of["w3"]).double > 0, "w3 kept its registrations"
        assert kept.double <= DOUBLE_BOUND, f"{kept.double_login}: {kept.double:.1f} s"
    finally:
        await proxy.close()
