"""Leases: which live worker instance keeps which enabled account registered.

A lease row names the worker and the worker *instance* (one per process start) that holds an
account. It is live while that worker still runs that instance and its heartbeat is younger
than the lease TTL; so keeping 30,000 leases alive costs one UPDATE per worker per heartbeat,
and a worker killed with -9 loses all of them at once when its heartbeat goes stale. Free
accounts (no live lease) are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent
workers never claim the same one, up to a fair share: pinned accounts go only to their worker
or its pool, the rest are split evenly over the live shared workers.

Every time here (heartbeats, acquisitions, "seen after") is ``uow.lease_time``: the database
server's clock on PostgreSQL, so a worker whose wall clock steps neither steals leases nor
drops its own; the workers' own timers run on the monotonic clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesip.domain.model import Account
from telesip.services.dependencies import Dependencies
from telesip.services.fleet import WorkerRef
from telesip.store.uow import UnitOfWork


async def leased_accounts(deps: Dependencies, ref: WorkerRef) -> list[Account]:
    """Every account leased to this worker instance, with its password (remote workers)."""
    async with deps.uow() as uow:
        return await uow.leases.accounts_of(ref)


async def heartbeat(
    deps: Dependencies,
    ref: WorkerRef,
    stats: dict[str, int] | None = None,
    *,
    addresses: list[str] | None = None,
) -> bool:
    """Keep every lease of this instance alive; False: the worker was revoked or another
    process took its name, and it must stop refreshing everything at once."""
    return (await heartbeat_and_look(deps, ref, stats, ttl=None, addresses=addresses))[0]


async def heartbeat_and_look(
    deps: Dependencies,
    ref: WorkerRef,
    stats: dict[str, int] | None,
    *,
    ttl: float | None,
    addresses: list[str] | None = None,
) -> tuple[bool, int, int]:
    """The heartbeat, and (with ``ttl``) what changed around: how many workers are alive and
    how many leases this instance has (so that a worker notices a death, a newcomer or a lost
    lease at every heartbeat without polling for them). ``addresses``: the worker's firewall
    entries, when they changed."""
    async with deps.uow() as uow:
        values: dict[str, Any] = {"last_seen": uow.lease_time()}
        if stats is not None:
            values["stats"] = stats
        if addresses is not None:
            values["addresses"] = addresses
        running = await uow.workers.beat(ref.id, ref.instance, values)
        alive = leases = 0
        if ttl is not None and running:
            alive = await uow.workers.count_live(uow.lease_time(ago=ttl))
            leases = await uow.leases.count(ref)
        await uow.commit()
    return running, alive, leases


async def leave(deps: Dependencies, ref: WorkerRef) -> list[int]:
    """Graceful stop: hand every lease back at once so other workers take over now; returns
    the accounts another worker may take (all but those pinned to this worker by name), for
    which the stopping worker waits (``taken_over``) before it un-REGISTERs."""
    async with deps.uow() as uow:
        handed = await uow.leases.others_may_take(ref)
        await uow.leases.drop_instance(ref)
        await uow.workers.stop(ref.id, ref.instance)
        await uow.commit()
    return handed


async def taken_over(
    deps: Dependencies, ref: WorkerRef, account_ids: list[int], *, ttl: float
) -> set[int]:
    """Which of these accounts (handed over by ``ref``) another live worker now holds and has
    reported registered, or has held for longer than the TTL without managing to (a taker that
    cannot register must not keep two registrations alive for ever): the giver un-REGISTERs
    its own contact for those."""
    if not account_ids:
        return set()
    async with deps.uow(readonly=True) as uow:
        since = uow.lease_time(ago=ttl)
        return await uow.leases.taken_over(
            ref, account_ids, live_after=since, acquired_before=since
        )


async def held(deps: Dependencies, ref: WorkerRef) -> set[int]:
    async with deps.uow() as uow:
        return await uow.leases.held(ref)


async def drop_ineligible(
    deps: Dependencies, ref: WorkerRef, account_ids: list[int] | None = None
) -> list[int]:
    """Release this instance's leases on accounts it may no longer hold (pinned elsewhere,
    un-pinned from a remote or pool-only worker, given to someone its owner-bound worker does
    not serve); returns them, so the worker stops registering them. ``account_ids``: look only
    at those (the ones that changed)."""
    async with deps.uow() as uow:
        ids = await uow.leases.drop_ineligible(ref, account_ids)
        await uow.commit()
    return ids


async def unheld(
    deps: Dependencies, account_ids: list[int], *, ttl: float, eligible: WorkerRef | None = None
) -> list[int]:
    """Those of these enabled accounts that no live worker holds now (and, given ``eligible``,
    that this worker may hold)."""
    if not account_ids:
        return []
    async with deps.uow(readonly=True) as uow:
        return await uow.leases.unheld(account_ids, uow.lease_time(ago=ttl), eligible)


async def _fair_share(uow: UnitOfWork, ref: WorkerRef, ttl: float) -> int:
    """How many shared-pool accounts this worker should hold: ceil(total / live shared)."""
    if not ref.shared or ref.remote:
        return 0
    total = await uow.leases.count_shared_accounts()
    live = await uow.workers.count_live_shared(uow.lease_time(ago=ttl))
    return math.ceil((total or 0) / max(1, live or 1))


@dataclass(frozen=True)
class Plan:
    claimed: list[Account]
    release: list[int]  # shared accounts above the fair share, to hand over
    short: bool = False  # below its share by more than one: others may be handing some over


async def claim(deps: Dependencies, ref: WorkerRef, *, ttl: float, batch: int = 5000) -> Plan:
    """Claim free accounts this worker may hold (pinned ones all, shared ones up to the fair
    share), and say which shared accounts to hand over when it holds more than its share
    while another live worker holds less."""
    async with deps.uow() as uow:
        held_shared = await uow.leases.count_held_shared(ref)
        share = await _fair_share(uow, ref, ttl)
        room = max(0, share - (held_shared or 0))
        alive_after = uow.lease_time(ago=ttl)
        claimed = await uow.leases.claimable(ref, alive_after, pinned=True, limit=batch)
        if room and ref.shared and not ref.remote:
            claimed += await uow.leases.claimable(
                ref, alive_after, pinned=False, limit=min(room, batch)
            )
        if claimed:
            await uow.leases.take(ref, [a.id for a in claimed], uow.lease_time())
        release: list[int] = []
        now_held = (held_shared or 0) + sum(1 for a in claimed if a.settings.worker is None)
        excess = (held_shared or 0) - share
        # hand over only when someone live is below its share (no ping-pong at the edge)
        if excess > 0 and await uow.leases.someone_below(ref, share, alive_after):
            release = await uow.leases.excess_shared(ref, min(excess, batch))
        await uow.commit()
    return Plan(claimed, release, short=now_held < share - 1)


async def release(deps: Dependencies, ref: WorkerRef, account_ids: list[int]) -> None:
    if not account_ids:
        return
    async with deps.uow() as uow:
        await uow.leases.release(ref, account_ids)
        await uow.commit()


async def live_workers(deps: Dependencies, *, ttl: float) -> int:
    """How many workers are alive now (a cheap look, every poll: a death is noticed at once)."""
    async with deps.uow(readonly=True) as uow:
        return await uow.workers.count_live(uow.lease_time(ago=ttl))


async def changes_since(deps: Dependencies, since: datetime) -> tuple[set[int], set[int]]:
    """Ids of accounts changed (settings, enabled, created) and deleted since ``since``: one
    cheap indexed query, run by every worker about once a second."""
    async with deps.uow() as uow:
        return await uow.accounts.changed_since(since)


async def accounts_by_id(deps: Dependencies, ids: set[int]) -> list[Account]:
    async with deps.uow() as uow:
        return await uow.accounts.many(ids)
