"""Workers: the rows of the fleet (names, pools, credentials' hashes, running instances and
heartbeats), and the SQL conditions the account card shares with the fleet (a live worker, a
worker that may register an account)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import String, and_, func, insert, literal, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from telesip.domain.readmodels import WorkerRecord
from telesip.store import tables

#: a time of the lease machinery: a value, or the database's clock in the statement
#: (``UnitOfWork.lease_time``)
When = datetime | ColumnElement[datetime]


class Holder(Protocol):
    """A running worker instance, as far as its leases go."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def instance(self) -> str: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def shared(self) -> bool: ...
    @property
    def remote(self) -> bool: ...
    @property
    def owner_id(self) -> int | None: ...


def worker_live(live_after: Any) -> Any:
    """SQL condition: the ``tables.workers`` row is alive (not revoked, running, seen after
    ``live_after``: a value or a bound parameter)."""
    w = tables.workers
    return and_(w.c.revoked_at.is_(None), w.c.instance.is_not(None), w.c.last_seen > live_after)


def firewall_candidates(w: Any, pin: Any, owner_id: Any) -> Any:
    """SQL condition: a row of ``w`` (the workers table or an alias) that may register an
    account pinned to ``pin`` (its name or pool; a worker made in the bot serves only its
    owner's accounts) or, unpinned, any shared local worker. ``pin`` and ``owner_id`` are
    columns or literals."""
    pinned = and_(pin.is_not(None), pin != "")
    return and_(
        w.c.revoked_at.is_(None),
        or_(
            and_(
                pinned,
                or_(w.c.name == pin, w.c.pool == pin),
                or_(w.c.owner_id.is_(None), w.c.owner_id == owner_id),
            ),
            and_(~pinned, w.c.shared, ~w.c.remote),
        ),
    )


def _worker(row: Any) -> WorkerRecord:
    return WorkerRecord(
        id=row.id,
        name=row.name,
        pool=row.pool,
        remote=row.remote,
        shared=row.shared,
        owner_id=row.owner_id,
        credential_hash=row.credential_hash,
        instance=row.instance,
        last_seen=row.last_seen,
        revoked_at=row.revoked_at,
        addresses=list(row.addresses),
        stats=dict(row.stats),
    )


class Workers:
    """The workers table: names, pools, credentials' hashes, instances and heartbeats."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def id_by_name(self, name: str) -> int | None:
        return await self.conn.scalar(
            select(tables.workers.c.id).where(tables.workers.c.name == name)
        )

    async def add(
        self,
        *,
        name: str,
        pool: str | None,
        remote: bool,
        shared: bool,
        now: datetime,
        credential_hash: str | None = None,
        owner_id: int | None = None,
    ) -> int:
        result = await self.conn.execute(
            insert(tables.workers)
            .values(
                name=name,
                pool=pool,
                remote=remote,
                shared=shared,
                credential_hash=credential_hash,
                owner_id=owner_id,
                addresses=[],
                stats={},
                created_at=now,
            )
            .returning(tables.workers.c.id)
        )
        return int(result.scalar_one())

    async def name_of_owned(self, worker_id: int, owner_id: int) -> str | None:
        return await self.conn.scalar(
            select(tables.workers.c.name).where(
                tables.workers.c.id == worker_id, tables.workers.c.owner_id == owner_id
            )
        )

    async def by_name(self, name: str, *, lock: bool = False) -> WorkerRecord | None:
        """The worker (its row ``FOR UPDATE`` with ``lock``), or None."""
        stmt = select(tables.workers).where(tables.workers.c.name == name)
        if lock:
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else _worker(row)

    async def revoke(self, name: str, owner_id: int | None, now: datetime) -> bool:
        """Revoke an active worker (only ``owner_id``'s when given); False when none is."""
        result = await self.conn.execute(
            update(tables.workers)
            .where(
                tables.workers.c.name == name,
                tables.workers.c.revoked_at.is_(None),
                tables.workers.c.owner_id == owner_id if owner_id is not None else true(),
            )
            .values(revoked_at=now, instance=None)
        )
        return result.rowcount == 1

    async def start(self, worker_id: int, values: dict[str, Any]) -> None:
        """A new instance starts: its instance id, heartbeat, addresses (and maybe pool)."""
        await self.conn.execute(
            update(tables.workers).where(tables.workers.c.id == worker_id).values(values)
        )

    async def beat(self, worker_id: int, instance: str, values: dict[str, Any]) -> bool:
        """The heartbeat of a running, unrevoked instance; False when it is not that."""
        result = await self.conn.execute(
            update(tables.workers)
            .where(
                tables.workers.c.id == worker_id,
                tables.workers.c.instance == instance,
                tables.workers.c.revoked_at.is_(None),
            )
            .values(values)
        )
        return result.rowcount == 1

    async def stop(self, worker_id: int, instance: str) -> None:
        await self.conn.execute(
            update(tables.workers)
            .where(tables.workers.c.id == worker_id, tables.workers.c.instance == instance)
            .values(instance=None, last_seen=None)
        )

    async def count_live(self, live_after: When) -> int:
        n = await self.conn.scalar(
            select(func.count()).select_from(tables.workers).where(worker_live(live_after))
        )
        return int(n or 0)

    async def count_live_shared(self, live_after: When) -> int | None:
        """Live local workers of the shared pool."""
        return await self.conn.scalar(
            select(func.count())
            .select_from(tables.workers)
            .where(worker_live(live_after), tables.workers.c.shared, ~tables.workers.c.remote)
        )

    async def lease_counts(self) -> dict[int, int]:
        """Leases per worker, counting only those of its current instance."""
        w = tables.workers
        return dict(
            (
                await self.conn.execute(
                    select(tables.leases.c.worker_id, func.count())
                    .join(
                        w,
                        and_(
                            w.c.id == tables.leases.c.worker_id,
                            w.c.instance == tables.leases.c.instance,
                        ),
                    )
                    .group_by(tables.leases.c.worker_id)
                )
            ).all()
        )

    async def listing(self, owner_id: int | None = None) -> list[WorkerRecord]:
        """Every worker by name, or ``owner_id``'s own and the shared ones."""
        w = tables.workers
        query = select(w).order_by(w.c.name)
        if owner_id is not None:
            query = query.where(
                or_(w.c.owner_id == owner_id, and_(w.c.owner_id.is_(None), w.c.shared))
            )
        return [_worker(row) for row in await self.conn.execute(query)]

    async def holder_addresses(self, account_id: int, live_after: When) -> list[str] | None:
        """The addresses of the live worker holding the account's lease, None when none does."""
        w = tables.workers
        holder = (
            await self.conn.execute(
                select(w.c.addresses)
                .join(
                    tables.leases,
                    and_(
                        tables.leases.c.worker_id == w.c.id,
                        tables.leases.c.instance == w.c.instance,
                    ),
                )
                .where(tables.leases.c.account_id == account_id, worker_live(live_after))
            )
        ).first()
        return None if holder is None else list(holder.addresses)

    async def candidate_addresses(self, pin: str | None, owner_id: int) -> list[str]:
        """Every address of the workers that may take an account pinned to ``pin``, sorted."""
        w = tables.workers
        cond = firewall_candidates(w, literal(pin, String()), owner_id)
        rows = await self.conn.execute(select(w.c.addresses).where(cond))
        return sorted({addr for r in rows for addr in r.addresses})
