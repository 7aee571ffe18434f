"""Three worker processes share 300 accounts on PostgreSQL against a real Kamailio: each
account is registered exactly once; kill -9 of a worker is covered within TTL + 5 s; a
restarted worker takes its share back without any account being unregistered; a pinned
account only ever goes to its worker."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from telesip.domain.model import TelegramUser
from telesip.services import accounts, billing
from telesip.services.dependencies import Dependencies
from telesip.store import tables as t

from .conftest import Fleet, Kamailio, contact_port, held_by, ports, sip_for, wait

TTL = 4
N = 300
OWNER = TelegramUser(5001, "Operator")


async def test_three_workers_share_survive_kill_and_rebalance(
    pg: Dependencies, kamailio: Kamailio, fleet: Fleet
) -> None:
    await billing.set_subscription(pg, OWNER, "office", -1)
    logins = {}
    for i in range(N):
        acc = await accounts.create_account(pg, OWNER, sip_for(kamailio, f"fl{i}", expires=20))
        logins[acc] = f"fl{i}"
    pinned = await accounts.create_account(
        pg, OWNER, sip_for(kamailio, "pin", worker="w3", expires=20)
    )
    logins[pinned] = "pin"
    for name in ("w1", "w2", "w3"):
        fleet.start(name)

    def each_once() -> bool:
        b = kamailio.bindings()
        return all(len(b.get(u, [])) == 1 for u in logins.values())

    wait(each_once, 60, "every account registered exactly once", fleet)
    live = await ports(pg)
    assert set(live) == {"w1", "w2", "w3"}
    assert contact_port(kamailio.contacts("pin")[0]) == live["w3"]

    async def shares() -> dict[str, int]:
        return {n: len(await held_by(pg, n)) - (n == "w3") for n in ("w1", "w2", "w3")}

    deadline = time.monotonic() + 20
    got = await shares()
    while not all(abs(v - N // 3) <= 10 for v in got.values()):
        assert time.monotonic() < deadline, f"no fair share: {got}"
        await asyncio.sleep(0.2)
        got = await shares()
    assert sum(got.values()) == N

    # kill -9: the others take its accounts over within TTL + 5 s
    victim = await held_by(pg, "w2")
    dead_port = live["w2"]
    fleet.kill("w2")
    others = {live["w1"], live["w3"]}

    def taken_over() -> bool:
        b = kamailio.bindings()
        return all(
            any(contact_port(c["Address"]) in others for c in b.get(logins[a], [])) for a in victim
        )

    took = wait(taken_over, TTL + 5, "the killed worker's accounts registered again", fleet)
    print(f"takeover after kill -9: {took:.1f} s (TTL {TTL} s)")

    # restart: it takes a fair share back, and no account is unregistered on the way
    fleet.start("w2")
    deadline = time.monotonic() + 40
    balanced_at: float | None = None
    while time.monotonic() < deadline:
        live = await ports(pg)
        live_ports = set(live.values()) - {dead_port}
        b = kamailio.bindings()
        for login in logins.values():
            found = {contact_port(c["Address"]) for c in b.get(login, [])}
            assert found & live_ports, f"{login} had no live registration: {found}"
        assert {contact_port(c["Address"]) for c in b.get("pin", [])} <= {live["w3"], dead_port}
        if balanced_at is None and len(await held_by(pg, "w2")) >= N // 3 - 10:
            balanced_at = time.monotonic()
        if balanced_at is not None and time.monotonic() - balanced_at > 8:
            break
        await asyncio.sleep(0.2)
    assert balanced_at is not None, f"the restarted worker got no fair share\n{fleet.logs()}"

    # once the dead process's bindings expire, every account is registered exactly once
    try:
        wait(each_once, 30, "exactly once after rebalancing", fleet)
    except AssertionError:
        b = kamailio.bindings()
        dups = {
            u: [(c["Address"], c["Expires"]) for c in b.get(u, [])]
            for u in logins.values()
            if len(b.get(u, [])) != 1
        }
        raise AssertionError(
            f"{len(dups)} not once: {list(dups.items())[:5]}; live {live}, dead {dead_port}"
        ) from None
    async with pg.engine.connect() as conn:
        leased = await conn.scalar(select(func.count()).select_from(t.leases))
    assert leased == N + 1

    # a graceful stop un-REGISTERs at once and hands the leases back
    fleet.stop_all()
    wait(
        lambda: not any(kamailio.bindings().get(u) for u in logins.values()),
        15,
        "everything unregistered after SIGTERM",
        fleet,
    )
