"""Workers: the fleet that keeps accounts registered. Creating and revoking a worker, a new
instance joining (one per process start; whatever an earlier instance held is freed), a remote
worker's credential, the operator's list, and the addresses a PBX must allow for an account.

A remote worker's credential is shown once and stored only as its SHA-256 hash. Which worker
holds which account is ``telesip.services.leases``.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from telesip.domain import errors
from telesip.domain.errors import WorkerRefused
from telesip.domain.readmodels import WorkerRecord
from telesip.domain.settings import WORKER_NAME
from telesip.services.dependencies import Dependencies
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


async def create_worker(
    deps: Dependencies,
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
    async with deps.uow() as uow:
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


async def revoke_worker_id(deps: Dependencies, worker_id: int, *, owner_id: int) -> str:
    """An administrator revokes one of their own workers (by id, as the bot's button says)."""
    async with deps.uow(readonly=True) as uow:
        name = await uow.workers.name_of_owned(worker_id, owner_id)
    if name is None:
        raise errors.InvalidInput("This worker is not yours or no longer exists.")
    await revoke_worker(deps, name, owner_id=owner_id)
    return str(name)


async def revoke_worker(deps: Dependencies, name: str, *, owner_id: int | None = None) -> None:
    """Refuse the worker from now on; its accounts show as unregistered until another worker
    (for unpinned ones) takes them."""
    async with deps.uow() as uow:
        if not await uow.workers.revoke(name, owner_id, uow.now):
            raise errors.InvalidInput(f"no active worker named {name!r}")
        await uow.leases.forget_revoked(name, uow.now)
        await uow.record("worker_revoked", None, None, {"worker": name})
        await uow.commit()


async def join(
    deps: Dependencies,
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
    async with deps.uow() as uow:
        row = await uow.workers.by_name(name, lock=True)
        if row is None or (remote and not row.remote):
            if remote:
                raise WorkerRefused(name=name, reason="unknown")
            await uow.workers.add(name=name, pool=pool, remote=False, shared=True, now=uow.now)
            row = await uow.workers.by_name(name)
            assert row is not None  # added in this transaction
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
            "last_seen": uow.lease_time(),
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


async def check_credential(deps: Dependencies, name: str, credential: str | None) -> WorkerRecord:
    """A remote worker's name and credential: known, remote, not revoked, the right secret
    (WorkerRefused otherwise). Reads only; returns the worker."""
    async with deps.uow(readonly=True) as uow:
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


async def authenticate(
    deps: Dependencies, name: str, credential: str | None, instance: str
) -> WorkerRef:
    """A remote worker's request: the right credential, not revoked, the current instance."""
    row = await check_credential(deps, name, credential)
    if row.instance != instance:
        raise WorkerRefused(name=name, reason="running elsewhere (another instance joined)")
    return WorkerRef(row.id, name, instance, row.pool, row.shared, row.remote, row.owner_id)


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


async def list_workers(
    deps: Dependencies, *, ttl: float, owner_id: int | None = None
) -> list[WorkerView]:
    """Every worker (the operator), or an administrator's own and the shared ones."""
    async with deps.uow() as uow:
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
                r.addresses,
                r.stats,
                r.owner_id,
                r.id,
            )
        )
    return out


async def firewall(deps: Dependencies, account_id: int, *, ttl: float) -> list[str]:
    """The SIP addresses a PBX must allow for this account: the worker holding it, or, before
    a worker has it, every worker that may take it."""
    return (await firewall_and_port(deps, account_id, ttl=ttl))[0]


async def firewall_and_port(
    deps: Dependencies, account_id: int, *, ttl: float
) -> tuple[list[str], int]:
    """``firewall``, and the port of the account's SIP server (its transport's default when
    unset): what the PBX's TCP/TLS rule names."""
    async with deps.uow(readonly=True) as uow:
        acc = await uow.accounts.pin_and_server(account_id)
        if acc is None:
            raise errors.AccountNotFound(account_id=account_id)
        pin, owner_id, transport, port = acc
        found = await firewall_in(uow, account_id, pin, owner_id, ttl=ttl)
    return found, int(port or (5061 if transport == "tls" else 5060))


async def firewall_in(
    uow: UnitOfWork, account_id: int, pin: str | None, owner_id: int, *, ttl: float
) -> list[str]:
    """``firewall`` inside a unit of work that already knows the account's pin and owner."""
    holder = await uow.workers.holder_addresses(account_id, uow.lease_time(ago=ttl))
    if holder is not None:
        return holder
    return await uow.workers.candidate_addresses(pin, owner_id)
