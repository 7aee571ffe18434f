"""Workers and leases: which live worker keeps which enabled account registered.

A lease row names the worker and the worker *instance* (one per process start) that holds an
account. It is live while that worker still runs that instance and its heartbeat is younger
than the lease TTL; so keeping 30,000 leases alive costs one UPDATE per worker per heartbeat,
and a worker killed with -9 loses all of them at once when its heartbeat goes stale. Free
accounts (no live lease) are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so concurrent
workers never claim the same one, up to a fair share: pinned accounts go only to their worker
or its pool, the rest are split evenly over the live shared workers.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telesip.domain import errors
from telesip.domain.errors import WorkerRefused
from telesip.domain.model import Account
from telesip.domain.settings import WORKER_NAME
from telesip.services.context import Services
from telesip.store.uow import UnitOfWork


@dataclass(frozen=True)
class WorkerRef:
    id: int
    name: str
    instance: str
    pool: str | None
    shared: bool
    remote: bool
    owner_id: int | None = None  # a worker made by an administrator serves only their accounts


def hash_credential(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _live_after(now: datetime, ttl: float) -> datetime:
    """Workers seen after this are alive now."""
    return now - timedelta(seconds=ttl)


async def create_worker(
    s: Services,
    name: str,
    *,
    pool: str | None = None,
    remote: bool = False,
    shared: bool | None = None,
    owner_id: int | None = None,
) -> tuple[int, str | None]:
    """Register a worker by name; a remote one gets a one-time credential (shown once)."""
    if not WORKER_NAME.match(name) or (pool is not None and not WORKER_NAME.match(pool)):
        raise errors.InvalidInput("worker and pool names: letters, digits, '.', '_' or '-'")
    credential = f"tsw_{secrets.token_urlsafe(32)}" if remote else None
    async with s.uow() as uow:
        if await uow.workers.id_by_name(name) is not None:
            raise errors.InvalidInput(f"a worker named {name!r} already exists")
        worker_id = await uow.workers.add(
            name=name,
            pool=pool,
            remote=remote,
            shared=(not remote) if shared is None else shared,
            credential_hash=hash_credential(credential) if credential else None,
            owner_id=owner_id,
            now=uow.now,
        )
        await uow.record("worker_created", None, owner_id, {"worker": name, "remote": remote})
        await uow.commit()
    return int(worker_id), credential


async def revoke_worker_id(s: Services, worker_id: int, *, owner_id: int) -> str:
    """An administrator revokes one of their own workers (by id, as the bot's button says)."""
    async with s.uow(readonly=True) as uow:
        name = await uow.workers.name_of_owned(worker_id, owner_id)
    if name is None:
        raise errors.InvalidInput("This worker is not yours or no longer exists.")
    await revoke_worker(s, name, owner_id=owner_id)
    return str(name)


async def revoke_worker(s: Services, name: str, *, owner_id: int | None = None) -> None:
    """Refuse the worker from now on; its accounts show as unregistered until another worker
    (for unpinned ones) takes them."""
    async with s.uow() as uow:
        if not await uow.workers.revoke(name, owner_id, uow.now):
            raise errors.InvalidInput(f"no active worker named {name!r}")
        await uow.leases.forget_revoked(name, uow.now)
        await uow.record("worker_revoked", None, None, {"worker": name})
        await uow.commit()


async def join(
    s: Services,
    name: str,
    *,
    pool: str | None = None,
    addresses: list[str] | None = None,
    credential: str | None = None,
    remote: bool = False,
) -> WorkerRef:
    """Start a worker instance. A local worker (database access) is created on first start;
    a remote one (``remote=True``, through the control plane) must exist as remote and present
    its credential. Whatever an earlier instance held is free from now on."""
    instance = str(uuid.uuid4())
    async with s.uow() as uow:
        row = await uow.workers.by_name(name, lock=True)
        if row is None or (remote and not row.remote):
            if remote:
                raise WorkerRefused(name=name, reason="unknown")
            await uow.workers.add(name=name, pool=pool, remote=False, shared=True, now=uow.now)
            row = await uow.workers.by_name(name)
        if row.revoked_at is not None:
            raise WorkerRefused(name=name, reason="revoked")
        if not remote and row.remote:
            raise WorkerRefused(name=name, reason="a remote worker (start it with --control-url)")
        if row.remote and (
            credential is None
            or not secrets.compare_digest(row.credential_hash or "", hash_credential(credential))
        ):
            raise WorkerRefused(name=name, reason="not authenticated")
        values: dict[str, Any] = {
            "instance": instance,
            "last_seen": uow.now,
            "addresses": addresses or [],
        }
        if pool is not None and not row.remote:
            values["pool"] = pool
        await uow.workers.start(row.id, values)
        await uow.leases.drop_worker(row.id)
        await uow.commit()
    return WorkerRef(
        row.id, name, instance, values.get("pool", row.pool), row.shared, row.remote, row.owner_id
    )


async def check_credential(s: Services, name: str, credential: str | None) -> Any:
    """A remote worker's name and credential: known, remote, not revoked, the right secret
    (WorkerRefused otherwise). Reads only; returns the worker's row."""
    async with s.uow(readonly=True) as uow:
        row = await uow.workers.by_name(name)
    if row is None or not row.remote:
        raise WorkerRefused(name=name, reason="unknown")
    if row.revoked_at is not None:
        raise WorkerRefused(name=name, reason="revoked")
    if credential is None or not secrets.compare_digest(
        row.credential_hash or "", hash_credential(credential)
    ):
        raise WorkerRefused(name=name, reason="not authenticated")
    return row


async def authenticate(s: Services, name: str, credential: str | None, instance: str) -> WorkerRef:
    """A remote worker's request: the right credential, not revoked, the current instance."""
    row = await check_credential(s, name, credential)
    if row.instance != instance:
        raise WorkerRefused(name=name, reason="running elsewhere (another instance joined)")
    return WorkerRef(row.id, name, instance, row.pool, row.shared, row.remote, row.owner_id)


async def leased_accounts(s: Services, ref: WorkerRef) -> list[Account]:
    """Every account leased to this worker instance, with its password (remote workers)."""
    async with s.uow() as uow:
        return await uow.leases.accounts_of(ref)


async def heartbeat(
    s: Services,
    ref: WorkerRef,
    stats: dict[str, int] | None = None,
    *,
    addresses: list[str] | None = None,
) -> bool:
    """Keep every lease of this instance alive; False: the worker was revoked or another
    process took its name, and it must stop refreshing everything at once."""
    return (await heartbeat_and_look(s, ref, stats, ttl=None, addresses=addresses))[0]


async def heartbeat_and_look(
    s: Services,
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
    async with s.uow() as uow:
        values: dict[str, Any] = {"last_seen": uow.now}
        if stats is not None:
            values["stats"] = stats
        if addresses is not None:
            values["addresses"] = addresses
        running = await uow.workers.beat(ref.id, ref.instance, values)
        alive = leases = 0
        if ttl is not None and running:
            alive = await uow.workers.count_live(_live_after(uow.now, ttl))
            leases = await uow.leases.count(ref)
        await uow.commit()
    return running, alive, leases


async def leave(s: Services, ref: WorkerRef) -> list[int]:
    """Graceful stop: hand every lease back at once so other workers take over now; returns
    the accounts another worker may take (all but those pinned to this worker by name), for
    which the stopping worker waits (``taken_over``) before it un-REGISTERs."""
    async with s.uow() as uow:
        handed = await uow.leases.others_may_take(ref)
        await uow.leases.drop_instance(ref)
        await uow.workers.stop(ref.id, ref.instance)
        await uow.commit()
    return handed


async def taken_over(
    s: Services, ref: WorkerRef, account_ids: list[int], *, ttl: float
) -> set[int]:
    """Which of these accounts (handed over by ``ref``) another live worker now holds and has
    reported registered, or has held for longer than the TTL without managing to (a taker that
    cannot register must not keep two registrations alive for ever): the giver un-REGISTERs
    its own contact for those."""
    if not account_ids:
        return set()
    async with s.uow(readonly=True) as uow:
        since = _live_after(uow.now, ttl)
        return await uow.leases.taken_over(
            ref, account_ids, live_after=since, acquired_before=since
        )


async def held(s: Services, ref: WorkerRef) -> set[int]:
    async with s.uow() as uow:
        return await uow.leases.held(ref)


async def drop_ineligible(
    s: Services, ref: WorkerRef, account_ids: list[int] | None = None
) -> list[int]:
    """Release this instance's leases on accounts it may no longer hold (pinned elsewhere,
    un-pinned from a remote or pool-only worker, given to someone its owner-bound worker does
    not serve); returns them, so the worker stops registering them. ``account_ids``: look only
    at those (the ones that changed)."""
    async with s.uow() as uow:
        ids = await uow.leases.drop_ineligible(ref, account_ids)
        await uow.commit()
    return ids


async def unheld(s: Services, account_ids: list[int], *, ttl: float) -> list[int]:
    """Those of these enabled accounts that no live worker holds now."""
    if not account_ids:
        return []
    async with s.uow(readonly=True) as uow:
        return await uow.leases.unheld(account_ids, _live_after(uow.now, ttl))


async def _fair_share(uow: UnitOfWork, ref: WorkerRef, ttl: float) -> int:
    """How many shared-pool accounts this worker should hold: ceil(total / live shared)."""
    if not ref.shared or ref.remote:
        return 0
    total = await uow.leases.count_shared_accounts()
    live = await uow.workers.count_live_shared(_live_after(uow.now, ttl))
    return math.ceil((total or 0) / max(1, live or 1))


@dataclass(frozen=True)
class Plan:
    claimed: list[Account]
    release: list[int]  # shared accounts above the fair share, to hand over
    short: bool = False  # below its share by more than one: others may be handing some over


async def claim(s: Services, ref: WorkerRef, *, ttl: float, batch: int = 5000) -> Plan:
    """Claim free accounts this worker may hold (pinned ones all, shared ones up to the fair
    share), and say which shared accounts to hand over when it holds more than its share
    while another live worker holds less."""
    async with s.uow() as uow:
        held_shared = await uow.leases.count_held_shared(ref)
        share = await _fair_share(uow, ref, ttl)
        room = max(0, share - (held_shared or 0))
        live_after = _live_after(uow.now, ttl)
        claimed = await uow.leases.claimable(ref, live_after, pinned=True, limit=batch)
        if room and ref.shared and not ref.remote:
            claimed += await uow.leases.claimable(
                ref, live_after, pinned=False, limit=min(room, batch)
            )
        if claimed:
            await uow.leases.take(ref, [a.id for a in claimed], uow.now)
        release: list[int] = []
        now_held = (held_shared or 0) + sum(1 for a in claimed if a.settings.worker is None)
        excess = (held_shared or 0) - share
        # hand over only when someone live is below its share (no ping-pong at the edge)
        if excess > 0 and await uow.leases.someone_below(ref, share, live_after):
            release = await uow.leases.excess_shared(ref, min(excess, batch))
        await uow.commit()
    return Plan(claimed, release, short=now_held < share - 1)


async def release(s: Services, ref: WorkerRef, account_ids: list[int]) -> None:
    if not account_ids:
        return
    async with s.uow() as uow:
        await uow.leases.release(ref, account_ids)
        await uow.commit()


async def live_workers(s: Services, *, ttl: float) -> int:
    """How many workers are alive now (a cheap look, every poll: a death is noticed at once)."""
    async with s.uow(readonly=True) as uow:
        return await uow.workers.count_live(_live_after(uow.now, ttl))


async def changes_since(s: Services, since: datetime) -> tuple[set[int], set[int]]:
    """Ids of accounts changed (settings, enabled, created) and deleted since ``since``: one
    cheap indexed query, run by every worker about once a second."""
    async with s.uow() as uow:
        return await uow.accounts.changed_since(since)


async def accounts_by_id(s: Services, ids: set[int]) -> list[Account]:
    async with s.uow() as uow:
        return await uow.accounts.many(ids)


@dataclass(frozen=True)
class WorkerView:
    name: str
    pool: str | None
    remote: bool
    alive: bool
    revoked: bool
    heartbeat_age: float | None
    accounts: int
    addresses: list[str]
    stats: dict[str, int]
    owner_id: int | None = None
    id: int = 0


async def list_workers(s: Services, *, ttl: float, owner_id: int | None = None) -> list[WorkerView]:
    """Every worker (the operator), or an administrator's own and the shared ones."""
    async with s.uow() as uow:
        counts = await uow.workers.lease_counts()
        rows = await uow.workers.listing(owner_id)
        now = uow.now
    out = []
    for r in rows:
        age = (now - r.last_seen).total_seconds() if r.last_seen else None
        alive = r.revoked_at is None and r.instance is not None and age is not None and age < ttl
        out.append(
            WorkerView(
                r.name,
                r.pool,
                r.remote,
                alive,
                r.revoked_at is not None,
                age,
                int(counts.get(r.id, 0)) if alive else 0,
                list(r.addresses),
                dict(r.stats),
                r.owner_id,
                r.id,
            )
        )
    return out


async def firewall(s: Services, account_id: int, *, ttl: float) -> list[str]:
    """The SIP addresses a PBX must allow for this account: the worker holding it, or, before
    a worker has it, every worker that may take it."""
    return (await firewall_and_port(s, account_id, ttl=ttl))[0]


async def firewall_and_port(s: Services, account_id: int, *, ttl: float) -> tuple[list[str], int]:
    """``firewall``, and the port of the account's SIP server (its transport's default when
    unset): what the PBX's TCP/TLS rule names."""
    async with s.uow(readonly=True) as uow:
        acc = await uow.accounts.pin_and_server(account_id)
        if acc is None:
            raise errors.AccountNotFound(account_id=account_id)
        found = await firewall_in(uow, account_id, acc.worker, acc.owner_id, ttl=ttl)
    return found, int(acc.port or (5061 if acc.transport == "tls" else 5060))


async def firewall_in(
    uow: UnitOfWork, account_id: int, pin: str | None, owner_id: int, *, ttl: float
) -> list[str]:
    """``firewall`` inside a unit of work that already knows the account's pin and owner."""
    holder = await uow.workers.holder_addresses(account_id, _live_after(uow.now, ttl))
    if holder is not None:
        return holder
    return await uow.workers.candidate_addresses(pin, owner_id)
