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

from sqlalchemy import (
    String,
    and_,
    delete,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from telesip.domain import errors
from telesip.domain.errors import WorkerRefused
from telesip.domain.model import Account
from telesip.domain.settings import WORKER_NAME
from telesip.services.context import Services
from telesip.store import tables as t
from telesip.store.repositories import firewall_candidates, worker_live
from telesip.store.rows import account_from_row
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


def _live(now: datetime, ttl: float) -> Any:
    """SQL condition: the worker row ``t.workers`` is alive now."""
    return worker_live(now - timedelta(seconds=ttl))


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
        exists = await uow.conn.scalar(select(t.workers.c.id).where(t.workers.c.name == name))
        if exists is not None:
            raise errors.InvalidInput(f"a worker named {name!r} already exists")
        worker_id = (
            await uow.conn.execute(
                insert(t.workers)
                .values(
                    name=name,
                    pool=pool,
                    remote=remote,
                    shared=(not remote) if shared is None else shared,
                    credential_hash=hash_credential(credential) if credential else None,
                    owner_id=owner_id,
                    addresses=[],
                    stats={},
                    created_at=uow.now,
                )
                .returning(t.workers.c.id)
            )
        ).scalar_one()
        await uow.record("worker_created", None, owner_id, {"worker": name, "remote": remote})
        await uow.commit()
    return int(worker_id), credential


async def revoke_worker_id(s: Services, worker_id: int, *, owner_id: int) -> str:
    """An administrator revokes one of their own workers (by id, as the bot's button says)."""
    async with s.uow(readonly=True) as uow:
        name = await uow.conn.scalar(
            select(t.workers.c.name).where(
                t.workers.c.id == worker_id, t.workers.c.owner_id == owner_id
            )
        )
    if name is None:
        raise errors.InvalidInput("This worker is not yours or no longer exists.")
    await revoke_worker(s, name, owner_id=owner_id)
    return str(name)


async def revoke_worker(s: Services, name: str, *, owner_id: int | None = None) -> None:
    """Refuse the worker from now on; its accounts show as unregistered until another worker
    (for unpinned ones) takes them."""
    async with s.uow() as uow:
        result = await uow.conn.execute(
            update(t.workers)
            .where(
                t.workers.c.name == name,
                t.workers.c.revoked_at.is_(None),
                t.workers.c.owner_id == owner_id if owner_id is not None else true(),
            )
            .values(revoked_at=uow.now, instance=None)
        )
        if result.rowcount != 1:
            raise errors.InvalidInput(f"no active worker named {name!r}")
        worker_id = select(t.workers.c.id).where(t.workers.c.name == name).scalar_subquery()
        held_ids = select(t.leases.c.account_id).where(t.leases.c.worker_id == worker_id)
        await uow.conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id.in_(held_ids), t.accounts.c.enabled)
            .values(
                reg_state="unregistered",
                reg_code=None,
                reg_changed_at=uow.now,
                reg_error=f"worker {name} was revoked; no worker holds this account",
            )
        )
        await uow.conn.execute(delete(t.leases).where(t.leases.c.worker_id == worker_id))
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
        row = (
            await uow.conn.execute(
                select(t.workers).where(t.workers.c.name == name).with_for_update()
            )
        ).first()
        if row is None or (remote and not row.remote):
            if remote:
                raise WorkerRefused(name=name, reason="unknown")
            await uow.conn.execute(
                insert(t.workers).values(
                    name=name,
                    pool=pool,
                    remote=False,
                    shared=True,
                    addresses=[],
                    stats={},
                    created_at=uow.now,
                )
            )
            row = (await uow.conn.execute(select(t.workers).where(t.workers.c.name == name))).one()
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
        await uow.conn.execute(update(t.workers).where(t.workers.c.id == row.id).values(values))
        await uow.conn.execute(delete(t.leases).where(t.leases.c.worker_id == row.id))
        await uow.commit()
    return WorkerRef(
        row.id, name, instance, values.get("pool", row.pool), row.shared, row.remote, row.owner_id
    )


async def check_credential(s: Services, name: str, credential: str | None) -> Any:
    """A remote worker's name and credential: known, remote, not revoked, the right secret
    (WorkerRefused otherwise). Reads only; returns the worker's row."""
    async with s.uow(readonly=True) as uow:
        row = (await uow.conn.execute(select(t.workers).where(t.workers.c.name == name))).first()
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
        rows = await uow.conn.execute(
            select(t.accounts)
            .join(
                t.leases,
                and_(
                    t.leases.c.account_id == t.accounts.c.id,
                    t.leases.c.worker_id == ref.id,
                    t.leases.c.instance == ref.instance,
                ),
            )
            .where(t.accounts.c.enabled)
            .order_by(t.accounts.c.id)
        )
        return [account_from_row(r, s.cipher.decrypt(r.password_enc)) for r in rows]


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
        result = await uow.conn.execute(
            update(t.workers)
            .where(
                t.workers.c.id == ref.id,
                t.workers.c.instance == ref.instance,
                t.workers.c.revoked_at.is_(None),
            )
            .values(values)
        )
        alive = leases = 0
        if ttl is not None and result.rowcount == 1:
            alive = int(
                await uow.conn.scalar(
                    select(func.count()).select_from(t.workers).where(_live(uow.now, ttl))
                )
                or 0
            )
            leases = int(
                await uow.conn.scalar(
                    select(func.count()).where(
                        t.leases.c.worker_id == ref.id, t.leases.c.instance == ref.instance
                    )
                )
                or 0
            )
        await uow.commit()
    return result.rowcount == 1, alive, leases


async def leave(s: Services, ref: WorkerRef) -> list[int]:
    """Graceful stop: hand every lease back at once so other workers take over now; returns
    the accounts another worker may take (all but those pinned to this worker by name), for
    which the stopping worker waits (``taken_over``) before it un-REGISTERs."""
    async with s.uow() as uow:
        others_may = await uow.conn.execute(
            select(t.leases.c.account_id)
            .join(t.accounts, t.accounts.c.id == t.leases.c.account_id)
            .where(
                t.leases.c.worker_id == ref.id,
                t.leases.c.instance == ref.instance,
                t.accounts.c.enabled,
                or_(t.accounts.c.worker.is_(None), t.accounts.c.worker != ref.name),
            )
        )
        handed = [int(r[0]) for r in others_may]
        await uow.conn.execute(
            delete(t.leases).where(
                t.leases.c.worker_id == ref.id, t.leases.c.instance == ref.instance
            )
        )
        await uow.conn.execute(
            update(t.workers)
            .where(t.workers.c.id == ref.id, t.workers.c.instance == ref.instance)
            .values(instance=None, last_seen=None)
        )
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
    w, le = t.workers, t.leases
    async with s.uow(readonly=True) as uow:
        rows = await uow.conn.execute(
            select(le.c.account_id)
            .join(w, and_(w.c.id == le.c.worker_id, w.c.instance == le.c.instance))
            .where(
                le.c.account_id.in_(account_ids),
                or_(
                    le.c.registered_at.is_not(None),
                    le.c.acquired_at < uow.now - timedelta(seconds=ttl),
                ),
                or_(w.c.id != ref.id, w.c.instance != ref.instance),
                _live(uow.now, ttl),
            )
        )
        return {int(r[0]) for r in rows}


async def held(s: Services, ref: WorkerRef) -> set[int]:
    async with s.uow() as uow:
        rows = await uow.conn.execute(
            select(t.leases.c.account_id).where(
                t.leases.c.worker_id == ref.id, t.leases.c.instance == ref.instance
            )
        )
        return {int(r[0]) for r in rows}


def _eligible(ref: WorkerRef) -> Any:
    a = t.accounts
    pins = [a.c.worker == ref.name]
    if ref.pool:
        pins.append(a.c.worker == ref.pool)
    if ref.shared and not ref.remote:
        pins.append(a.c.worker.is_(None))
    if ref.owner_id is not None:  # naming someone's worker does not hand it your password
        return and_(or_(*pins), a.c.owner_id == ref.owner_id)
    return or_(*pins)


async def drop_ineligible(
    s: Services, ref: WorkerRef, account_ids: list[int] | None = None
) -> list[int]:
    """Release this instance's leases on accounts it may no longer hold (pinned elsewhere,
    un-pinned from a remote or pool-only worker, given to someone its owner-bound worker does
    not serve); returns them, so the worker stops registering them. ``account_ids``: look only
    at those (the ones that changed)."""
    le = t.leases
    async with s.uow() as uow:
        mine = and_(le.c.worker_id == ref.id, le.c.instance == ref.instance)
        query = (
            select(le.c.account_id)
            .join(t.accounts, t.accounts.c.id == le.c.account_id)
            .where(mine, not_(func.coalesce(_eligible(ref), False)))
        )
        if account_ids is not None:
            query = query.where(le.c.account_id.in_(account_ids))
        ids = [int(r[0]) for r in await uow.conn.execute(query)]
        if ids:
            await uow.conn.execute(delete(le).where(mine, le.c.account_id.in_(ids)))
        await uow.commit()
    return ids


async def unheld(s: Services, account_ids: list[int], *, ttl: float) -> list[int]:
    """Those of these enabled accounts that no live worker holds now."""
    if not account_ids:
        return []
    async with s.uow(readonly=True) as uow:
        rows = await uow.conn.execute(
            select(t.accounts.c.id).where(
                t.accounts.c.id.in_(account_ids), t.accounts.c.enabled, _free(uow.now, ttl)
            )
        )
        return [int(r[0]) for r in rows]


def _free(now: datetime, ttl: float) -> Any:
    """SQL condition on accounts: no live lease."""
    live = (
        select(t.leases.c.account_id)
        .join(
            t.workers,
            and_(
                t.workers.c.id == t.leases.c.worker_id, t.workers.c.instance == t.leases.c.instance
            ),
        )
        .where(t.leases.c.account_id == t.accounts.c.id, _live(now, ttl))
    )
    return ~live.exists()


async def _fair_share(uow: UnitOfWork, ref: WorkerRef, ttl: float) -> int:
    """How many shared-pool accounts this worker should hold: ceil(total / live shared)."""
    if not ref.shared or ref.remote:
        return 0
    total = await uow.conn.scalar(
        select(func.count()).where(t.accounts.c.enabled, t.accounts.c.worker.is_(None))
    )
    live = await uow.conn.scalar(
        select(func.count())
        .select_from(t.workers)
        .where(_live(uow.now, ttl), t.workers.c.shared, ~t.workers.c.remote)
    )
    return math.ceil((total or 0) / max(1, live or 1))


def _upsert_lease(uow: UnitOfWork) -> Any:
    table = t.leases
    ins = (
        postgresql.insert(table) if uow.conn.dialect.name == "postgresql" else sqlite.insert(table)
    )
    return ins.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "worker_id": ins.excluded.worker_id,
            "instance": ins.excluded.instance,
            "acquired_at": ins.excluded.acquired_at,
            "registered_at": None,  # the new holder has not registered it yet
        },
    )


@dataclass(frozen=True)
class Plan:
    claimed: list[Account]
    release: list[int]  # shared accounts above the fair share, to hand over
    short: bool = False  # below its share by more than one: others may be handing some over


async def claim(s: Services, ref: WorkerRef, *, ttl: float, batch: int = 5000) -> Plan:
    """Claim free accounts this worker may hold (pinned ones all, shared ones up to the fair
    share), and say which shared accounts to hand over when it holds more than its share
    while another live worker holds less."""
    a = t.accounts
    async with s.uow() as uow:
        mine = select(t.leases.c.account_id).where(
            t.leases.c.worker_id == ref.id, t.leases.c.instance == ref.instance
        )
        held_shared = await uow.conn.scalar(
            select(func.count()).where(a.c.id.in_(mine), a.c.worker.is_(None), a.c.enabled)
        )
        share = await _fair_share(uow, ref, ttl)
        room = max(0, share - (held_shared or 0))
        pinned_q = (
            select(a)
            .where(a.c.enabled, _free(uow.now, ttl), a.c.worker.is_not(None), _eligible(ref))
            .order_by(a.c.id)
            .limit(batch)
            .with_for_update(of=a, skip_locked=True, key_share=True)
        )
        rows = list((await uow.conn.execute(pinned_q)).all())
        if room and ref.shared and not ref.remote:
            shared_q = (
                select(a)
                .where(a.c.enabled, _free(uow.now, ttl), a.c.worker.is_(None))
                .order_by(a.c.id)
                .limit(min(room, batch))
                .with_for_update(of=a, skip_locked=True, key_share=True)
            )
            rows += list((await uow.conn.execute(shared_q)).all())
        if rows:
            await uow.conn.execute(
                _upsert_lease(uow),
                [
                    {
                        "account_id": r.id,
                        "worker_id": ref.id,
                        "instance": ref.instance,
                        "acquired_at": uow.now,
                    }
                    for r in rows
                ],
            )
        release: list[int] = []
        now_held = (held_shared or 0) + sum(1 for r in rows if r.worker is None)
        excess = (held_shared or 0) - share
        if excess > 0:
            # hand over only when someone live is below its share (no ping-pong at the edge)
            below = await _someone_below(uow, ref, share, ttl)
            if below:
                ids = await uow.conn.execute(
                    select(a.c.id)
                    .where(a.c.id.in_(mine), a.c.worker.is_(None))
                    .order_by(a.c.id.desc())
                    .limit(min(excess, batch))
                )
                release = [int(r[0]) for r in ids]
        await uow.commit()
    return Plan(
        [account_from_row(r, s.cipher.decrypt(r.password_enc)) for r in rows],
        release,
        short=now_held < share - 1,
    )


async def _someone_below(uow: UnitOfWork, ref: WorkerRef, share: int, ttl: float) -> bool:
    w, a = t.workers, t.accounts
    counts = (
        select(w.c.id, func.count(t.leases.c.account_id).label("n"))
        .select_from(
            w.outerjoin(
                t.leases, and_(t.leases.c.worker_id == w.c.id, t.leases.c.instance == w.c.instance)
            )
        )
        .outerjoin(a, and_(a.c.id == t.leases.c.account_id, a.c.worker.is_(None)))
        .where(_live(uow.now, ttl), w.c.shared, ~w.c.remote, w.c.id != ref.id)
        .group_by(w.c.id)
    )
    return any(r.n < share - 1 for r in await uow.conn.execute(counts))


async def release(s: Services, ref: WorkerRef, account_ids: list[int]) -> None:
    if not account_ids:
        return
    async with s.uow() as uow:
        await uow.conn.execute(
            delete(t.leases).where(
                t.leases.c.worker_id == ref.id,
                t.leases.c.instance == ref.instance,
                t.leases.c.account_id.in_(account_ids),
            )
        )
        await uow.commit()


async def live_workers(s: Services, *, ttl: float) -> int:
    """How many workers are alive now (a cheap look, every poll: a death is noticed at once)."""
    async with s.uow(readonly=True) as uow:
        n = await uow.conn.scalar(
            select(func.count()).select_from(t.workers).where(_live(uow.now, ttl))
        )
    return int(n or 0)


async def changes_since(s: Services, since: datetime) -> tuple[set[int], set[int]]:
    """Ids of accounts changed (settings, enabled, created) and deleted since ``since``: one
    cheap indexed query, run by every worker about once a second."""
    changed = select(t.accounts.c.id, literal(False).label("gone")).where(
        t.accounts.c.updated_at >= since
    )
    deleted = select(t.audit.c.account_id, literal(True).label("gone")).where(
        t.audit.c.at >= since, t.audit.c.action == "deleted"
    )
    async with s.uow() as uow:
        rows = (await uow.conn.execute(union_all(changed, deleted))).all()
    return ({int(r[0]) for r in rows if not r[1]}, {int(r[0]) for r in rows if r[1]})


async def accounts_by_id(s: Services, ids: set[int]) -> list[Account]:
    async with s.uow() as uow:
        rows = await uow.conn.execute(select(t.accounts).where(t.accounts.c.id.in_(list(ids))))
        return [account_from_row(r, s.cipher.decrypt(r.password_enc)) for r in rows]


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
    w = t.workers
    async with s.uow() as uow:
        counts: dict[int, int] = dict(
            (
                await uow.conn.execute(
                    select(t.leases.c.worker_id, func.count())
                    .join(
                        w, and_(w.c.id == t.leases.c.worker_id, w.c.instance == t.leases.c.instance)
                    )
                    .group_by(t.leases.c.worker_id)
                )
            ).all()
        )
        query = select(w).order_by(w.c.name)
        if owner_id is not None:
            query = query.where(
                or_(w.c.owner_id == owner_id, and_(w.c.owner_id.is_(None), w.c.shared))
            )
        rows = (await uow.conn.execute(query)).all()
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
    a = t.accounts
    async with s.uow(readonly=True) as uow:
        acc = (
            await uow.conn.execute(
                select(a.c.worker, a.c.owner_id, a.c.transport, a.c.port).where(
                    a.c.id == account_id
                )
            )
        ).first()
        if acc is None:
            raise errors.AccountNotFound(account_id=account_id)
        found = await firewall_in(uow, account_id, acc.worker, acc.owner_id, ttl=ttl)
    return found, int(acc.port or (5061 if acc.transport == "tls" else 5060))


async def firewall_in(
    uow: UnitOfWork, account_id: int, pin: str | None, owner_id: int, *, ttl: float
) -> list[str]:
    """``firewall`` inside a unit of work that already knows the account's pin and owner."""
    w = t.workers
    holder = (
        await uow.conn.execute(
            select(w.c.addresses)
            .join(
                t.leases,
                and_(t.leases.c.worker_id == w.c.id, t.leases.c.instance == w.c.instance),
            )
            .where(t.leases.c.account_id == account_id, _live(uow.now, ttl))
        )
    ).first()
    if holder is not None:
        return list(holder.addresses)
    cond = firewall_candidates(w, literal(pin, String()), owner_id)
    rows = await uow.conn.execute(select(w.c.addresses).where(cond))
    return sorted({addr for r in rows for addr in r.addresses})
