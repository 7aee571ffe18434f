"""Clock steps (issue 18, item 8): NTP stepping one worker's wall clock an hour forward or back.

Leases are measured on the database's clock (``UnitOfWork.lease_time``: PostgreSQL's ``now()``
inside the statements), the workers' timers on the monotonic clock, so a worker whose wall
clock steps neither steals the others' leases (forward: everyone else's heartbeat would look
an hour old) nor loses its own (back: its heartbeats would look an hour old to the others).
Proved twice: in process, with a fake clock that plays one worker's wall clock, and with a real
worker process whose clock libfaketime steps while it runs (skipped, saying why, without the
``faketime`` package). An offer's lifetime is measured on the database's clock: on PostgreSQL
``DatabaseClock`` (the server's time carried on by the monotonic clock), so a bot process whose
wall clock libfaketime steps an hour either way makes offers that live their lifetime as the
database says; on both databases an offer answers as its unit of work's clock says.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from telesip.domain import errors
from telesip.domain.clock import FakeClock
from telesip.domain.model import Method
from telesip.services import accounts, fleet, leases, offers
from telesip.services.dependencies import Dependencies
from telesip.store.dbclock import DatabaseClock
from tests.conftest import TEST_KEY
from tests.core.helpers import ALICE, BOB, sip
from tests.fleet.conftest import held_by

from .conftest import Fleet, Watch, make_accounts

TTL = 3.0
HOUR = 3600.0
# Debian's faketime package (bin/system-deps installs it)
LIBFAKETIME = next(iter(sorted(Path("/usr/lib").glob("*/faketime/libfaketime.so.1"))), None)


async def test_a_worker_whose_wall_clock_steps_neither_steals_nor_loses_leases(
    pg: Dependencies,
) -> None:
    await accounts_for(pg, 6)
    stepped = FakeClock(datetime.now(UTC), wall=True)  # worker b's wall clock, stepped by hand
    b = replace(pg, clock=stepped)
    ref_b = await fleet.join(b, "b")
    mine = {a.id for a in (await leases.claim(b, ref_b, ttl=30)).claimed}
    assert len(mine) == 6
    ref_a = await fleet.join(pg, "a")
    for step in (-HOUR, 2 * HOUR, -HOUR):  # back an hour, then an hour ahead, then true again
        stepped.advance(step)
        ok, alive, held = await leases.heartbeat_and_look(b, ref_b, None, ttl=30)
        assert (ok, alive, held) == (True, 2, 6), f"step {step:+.0f} s: b's own view"
        assert await leases.live_workers(pg, ttl=30) == 2, f"step {step:+.0f} s: a sees b dead"
        assert (await leases.claim(pg, ref_a, ttl=30)).claimed == [], "a stole b's leases"
        assert (await leases.claim(b, ref_b, ttl=30)).claimed == [], "b stole a's leases"
        assert await leases.held(b, ref_b) == mine
        assert await leases.unheld(b, sorted(mine), ttl=30) == []


async def accounts_for(deps: Dependencies, n: int) -> list[int]:
    from telesip.services import billing

    await billing.set_subscription(deps, ALICE, "office", -1)
    return [await accounts.create_account(deps, ALICE, sip(str(200 + i))) for i in range(n)]


def _step_to(offset_file: Path, seconds: float) -> None:
    offset_file.write_text(f"{seconds:+.0f}\n")


@pytest.mark.skipif(LIBFAKETIME is None, reason="no libfaketime: apt-get install faketime")
async def test_a_worker_process_whose_clock_steps_keeps_its_share(
    pg: Dependencies, watch: Watch, fleet: Fleet, tmp_path: Path
) -> None:
    offset = tmp_path / "faketime"
    _step_to(offset, 0)
    faked = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_CACHE_DURATION": "1",  # the file is read again at most once a second
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # NTP steps the wall clock only
    }
    watch.logins = list(await make_accounts(pg, watch.kam, 20, "cs"))
    fleet.ttl = TTL
    fleet.start("w1")
    fleet.start("w2", more_env=faked)
    watch.start()
    await watch.until(watch.each_once, 60, "every account registered exactly once")
    await _until_shared(pg, watch, within=20)
    before = {n: await held_by(pg, n) for n in ("w1", "w2")}
    for step in (HOUR, -HOUR):
        stepped_at = time.monotonic()
        _step_to(offset, step)
        await asyncio.sleep(4 * TTL)  # several heartbeats and claims on the stepped clock
        after = watch.worst(stepped_at)
        held = {n: await held_by(pg, n) for n in ("w1", "w2")}
        print(f"step {step:+.0f} s: gap {after.gap:.2f} s, double {after.double:.2f} s")
        assert held == before, f"leases moved after a {step:+.0f} s step\n{fleet.logs()}"
        assert after.gap == 0 and after.bare == 0, f"{after.gap_login}: a gap after the step"
        assert after.double == 0, f"{after.double_login}: registered twice after the step"
    assert "lost" not in fleet.logs().lower()


async def _until_shared(pg: Dependencies, watch: Watch, *, within: float) -> None:
    start = time.monotonic()
    while True:
        shares = [len(await held_by(pg, n)) for n in ("w1", "w2")]
        if shares == [10, 10]:
            return
        if time.monotonic() - start > within:
            raise AssertionError(f"no fair share within {within}s: {shares}\n{watch.fleet.logs()}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("backend", ["sqlite", "pg"], indirect=True)
async def test_an_offer_answers_as_its_clock_says_across_a_step(services: Dependencies) -> None:
    clock = FakeClock(datetime.now(UTC), wall=True)  # the service's wall clock
    deps = replace(services, clock=clock)
    (first, second) = await accounts_for(deps, 2)
    lifetime = deps.rules.offer_ttl_seconds
    made = await offers.create_offer(deps, ALICE, first, Method.UNLINK)
    clock.advance(-HOUR)  # back: the offer's end is an hour further away on this clock
    await offers.receive(deps, BOB, made.id)
    clock.advance(HOUR)
    late = await offers.create_offer(deps, ALICE, second, Method.UNLINK)
    clock.advance(HOUR)  # forward past its lifetime: expired, cleanly
    with pytest.raises(errors.OfferExpired):
        await offers.receive(deps, BOB, late.id)
    assert lifetime < HOUR


async def test_the_database_clock_follows_the_server_not_the_process(pg: Dependencies) -> None:
    """On PostgreSQL a process's ``now`` is the server's clock carried on by the monotonic
    clock: a step of the process's wall clock does not move it."""
    mono = [1000.0]
    wall = [datetime.now(UTC)]
    clock = DatabaseClock(pg.engine, monotonic=lambda: mono[0], wall=lambda: wall[0])
    wall[0] += timedelta(hours=1)  # before the first sync it can only read the wall clock
    assert clock.now() == wall[0]
    await clock.sync()
    async with pg.engine.connect() as conn:
        server = (await conn.execute(text("SELECT now()"))).scalar_one()
    assert abs((clock.now() - server).total_seconds()) < 5  # the round trips, not the hour
    read = clock.now()
    for step in (-HOUR, 2 * HOUR):
        wall[0] += timedelta(seconds=step)
        assert clock.now() == read, f"a {step:+.0f} s step of the wall clock moved it"
    mono[0] += 7.5
    assert clock.now() == read + timedelta(seconds=7.5)


async def test_a_workers_liveness_reads_the_same_clock_as_its_heartbeat(pg: Dependencies) -> None:
    """The workers' list shows "seen N s ago" from the heartbeat the database stamped with its
    own ``now()``, measured on the database's clock: a process whose wall clock is an hour
    ahead still sees a live worker (a step of its own clock moves nothing)."""
    await fleet.join(pg, "w")
    ahead = DatabaseClock(pg.engine, wall=lambda: datetime.now(UTC) + timedelta(hours=1))
    await ahead.sync()
    (seen,) = await fleet.list_workers(replace(pg, clock=ahead), ttl=30)
    assert seen.alive and seen.heartbeat_age is not None and abs(seen.heartbeat_age) < 5, seen
    stepped = FakeClock(datetime.now(UTC) + timedelta(hours=1), wall=True)  # the wall clock
    (wrong,) = await fleet.list_workers(replace(pg, clock=stepped), ttl=30)
    assert not wrong.alive  # what reading the process's own clock would say


_OFFERS_UNDER_STEPS = """
import asyncio, sys
from pathlib import Path
from telesip.bootstrap import services_for
from telesip.config import Settings
from telesip.domain.model import Method, TelegramUser
from telesip.services import offers

async def main() -> None:
    url, key, offset, *ids = sys.argv[1:]
    alice = TelegramUser({alice}, "Alice")
    async with services_for(Settings(database_url=url, secret_key=key)) as deps:
        for account_id, step in zip(ids, ("+3600", "-3600")):
            made = await offers.create_offer(deps, alice, int(account_id), Method.UNLINK)
            print(made.id, flush=True)
            Path(offset).write_text(step + "\\n")  # NTP steps this process's clock
            await asyncio.sleep(1.5)  # libfaketime reads the file again once a second

asyncio.run(main())
"""


@pytest.mark.skipif(LIBFAKETIME is None, reason="no libfaketime: apt-get install faketime")
async def test_offers_made_by_a_process_whose_clock_steps_live_as_the_database_says(
    pg: Dependencies, tmp_path: Path
) -> None:
    """A bot/API process whose wall clock is stepped an hour ahead, then an hour back, while it
    runs makes offers that end ``offer_ttl_seconds`` after they were made on the database's
    clock, and another process receives them (issue 18: offers on the database's clock)."""
    ids = await accounts_for(pg, 2)
    offset = tmp_path / "faketime"
    _step_to(offset, 0)
    env = os.environ | {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_CACHE_DURATION": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    script = _OFFERS_UNDER_STEPS.format(alice=ALICE.id)
    url = pg.engine.url.render_as_string(hide_password=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, url, TEST_KEY, str(offset), *map(str, ids),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    made = [int(x) for x in out.split()]
    assert len(made) == 2
    async with pg.engine.connect() as conn:
        server = (await conn.execute(text("SELECT timezone('UTC', now())"))).scalar_one()
    lifetime = timedelta(seconds=pg.rules.offer_ttl_seconds)
    async with pg.uow(readonly=True) as uow:
        for offer_id in made:
            offer = await uow.offers.get(offer_id)
            assert offer is not None
            ends = offer.expires_at.replace(tzinfo=None)
            # made in the last few seconds on the server's clock, not an hour off
            assert abs((ends - lifetime - server).total_seconds()) < 30, (ends, server)
    for offer_id in made:
        await offers.receive(pg, BOB, offer_id)  # still acceptable, as the database says
