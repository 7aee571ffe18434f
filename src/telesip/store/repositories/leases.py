"""Leases: which worker instance holds which account (see ``telesip.services.leases`` for the
protocol). A lease is live while its worker runs that instance and its heartbeat is younger
than the TTL; free accounts are claimed with ``SELECT ... FOR UPDATE SKIP LOCKED``, so
concurrent workers never claim the same one. Accounts come back with their passwords
decrypted: only workers ask for them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from telesip.domain.model import Account
from telesip.store import tables
from telesip.store.crypto import Cipher
from telesip.store.repositories.common import dialect_insert
from telesip.store.repositories.workers import Holder, When, worker_live
from telesip.store.rows import account_from_row


def _mine(ref: Holder) -> Any:
    return and_(tables.leases.c.worker_id == ref.id, tables.leases.c.instance == ref.instance)


def _eligible(ref: Holder) -> Any:
    """SQL condition on accounts: ``ref`` may hold it (pinned to it or its pool, or unpinned
    for a shared local worker; an owner-bound worker only its owner's)."""
    a = tables.accounts
    pins = [a.c.worker == ref.name]
    if ref.pool:
        pins.append(a.c.worker == ref.pool)
    if ref.shared and not ref.remote:
        pins.append(a.c.worker.is_(None))
    if ref.owner_id is not None:  # naming someone's worker does not hand it your password
        return and_(or_(*pins), a.c.owner_id == ref.owner_id)
    return or_(*pins)


def _first_enabled_copy() -> Any:
    """SQL condition on accounts: no older enabled account connects the same line (R11: a
    line registers once; should two copies be enabled at once, only the oldest is claimed)."""
    older = aliased(tables.accounts)
    return ~exists().where(
        older.c.identity == tables.accounts.c.identity,
        older.c.enabled,
        older.c.id < tables.accounts.c.id,
    )


def _free(live_after: When) -> Any:
    """SQL condition on accounts: no live lease."""
    live = (
        select(tables.leases.c.account_id)
        .join(
            tables.workers,
            and_(
                tables.workers.c.id == tables.leases.c.worker_id,
                tables.workers.c.instance == tables.leases.c.instance,
            ),
        )
        .where(tables.leases.c.account_id == tables.accounts.c.id, worker_live(live_after))
    )
    return ~live.exists()


class Leases:
    def __init__(self, conn: AsyncConnection, cipher: Cipher) -> None:
        self.conn = conn
        self.cipher = cipher

    def _accounts(self, rows: Iterable[Any]) -> list[Account]:
        return [account_from_row(r, self.cipher.decrypt(r.password_enc)) for r in rows]

    async def drop_worker(self, worker_id: int) -> None:
        """Free every lease of the worker, whichever instance took it."""
        await self.conn.execute(delete(tables.leases).where(tables.leases.c.worker_id == worker_id))

    async def forget_revoked(self, name: str, now: datetime) -> None:
        """A revoked worker's accounts show as unregistered, and its leases go."""
        worker_id = (
            select(tables.workers.c.id).where(tables.workers.c.name == name).scalar_subquery()
        )
        held_ids = select(tables.leases.c.account_id).where(tables.leases.c.worker_id == worker_id)
        await self.conn.execute(
            update(tables.accounts)
            .where(tables.accounts.c.id.in_(held_ids), tables.accounts.c.enabled)
            .values(
                reg_state="unregistered",
                reg_code=None,
                reg_changed_at=now,
                reg_error=f"worker {name} was revoked; no worker holds this account",
            )
        )
        await self.conn.execute(delete(tables.leases).where(tables.leases.c.worker_id == worker_id))

    async def accounts_of(self, ref: Holder) -> list[Account]:
        """Every enabled account leased to this instance, with its password."""
        rows = await self.conn.execute(
            select(tables.accounts)
            .join(
                tables.leases,
                and_(
                    tables.leases.c.account_id == tables.accounts.c.id,
                    tables.leases.c.worker_id == ref.id,
                    tables.leases.c.instance == ref.instance,
                ),
            )
            .where(tables.accounts.c.enabled)
            .order_by(tables.accounts.c.id)
        )
        return self._accounts(rows)

    async def count(self, ref: Holder) -> int:
        n = await self.conn.scalar(select(func.count()).where(_mine(ref)))
        return int(n or 0)

    async def others_may_take(self, ref: Holder) -> list[int]:
        """This instance's enabled accounts not pinned to it by name."""
        rows = await self.conn.execute(
            select(tables.leases.c.account_id)
            .join(tables.accounts, tables.accounts.c.id == tables.leases.c.account_id)
            .where(
                tables.leases.c.worker_id == ref.id,
                tables.leases.c.instance == ref.instance,
                tables.accounts.c.enabled,
                or_(tables.accounts.c.worker.is_(None), tables.accounts.c.worker != ref.name),
            )
        )
        return [int(r[0]) for r in rows]

    async def drop_instance(self, ref: Holder) -> None:
        await self.conn.execute(delete(tables.leases).where(_mine(ref)))

    async def taken_over(
        self,
        ref: Holder,
        account_ids: list[int],
        *,
        live_after: When,
        acquired_before: When,
    ) -> set[int]:
        """Those accounts another live instance holds and has registered, or has held since
        before ``acquired_before``."""
        w, le = tables.workers, tables.leases
        rows = await self.conn.execute(
            select(le.c.account_id)
            .join(w, and_(w.c.id == le.c.worker_id, w.c.instance == le.c.instance))
            .where(
                le.c.account_id.in_(account_ids),
                or_(le.c.registered_at.is_not(None), le.c.acquired_at < acquired_before),
                or_(w.c.id != ref.id, w.c.instance != ref.instance),
                worker_live(live_after),
            )
        )
        return {int(r[0]) for r in rows}

    async def held(self, ref: Holder) -> set[int]:
        rows = await self.conn.execute(select(tables.leases.c.account_id).where(_mine(ref)))
        return {int(r[0]) for r in rows}

    async def drop_ineligible(self, ref: Holder, account_ids: list[int] | None) -> list[int]:
        """Release this instance's leases on accounts it may no longer hold (not eligible, or
        a newer copy of a line whose older copy is enabled); returns them."""
        le = tables.leases
        mine = _mine(ref)
        query = (
            select(le.c.account_id)
            .join(tables.accounts, tables.accounts.c.id == le.c.account_id)
            .where(mine, or_(not_(func.coalesce(_eligible(ref), False)), ~_first_enabled_copy()))
        )
        if account_ids is not None:
            query = query.where(le.c.account_id.in_(account_ids))
        ids = [int(r[0]) for r in await self.conn.execute(query)]
        if ids:
            await self.conn.execute(delete(le).where(mine, le.c.account_id.in_(ids)))
        return ids

    async def unheld(
        self, account_ids: list[int], live_after: When, eligible: Holder | None = None
    ) -> list[int]:
        """Those of these enabled accounts that no live worker holds (and, given ``eligible``,
        that this worker may hold)."""
        a = tables.accounts
        mine = () if eligible is None else (_eligible(eligible),)
        rows = await self.conn.execute(
            select(a.c.id).where(a.c.id.in_(account_ids), a.c.enabled, _free(live_after), *mine)
        )
        return [int(r[0]) for r in rows]

    async def count_shared_accounts(self) -> int | None:
        """Enabled accounts of the shared pool (pinned to no worker)."""
        return await self.conn.scalar(
            select(func.count()).where(
                tables.accounts.c.enabled, tables.accounts.c.worker.is_(None)
            )
        )

    def _mine_ids(self, ref: Holder) -> Any:
        return select(tables.leases.c.account_id).where(
            tables.leases.c.worker_id == ref.id, tables.leases.c.instance == ref.instance
        )

    async def count_held_shared(self, ref: Holder) -> int | None:
        a = tables.accounts
        return await self.conn.scalar(
            select(func.count()).where(
                a.c.id.in_(self._mine_ids(ref)), a.c.worker.is_(None), a.c.enabled
            )
        )

    async def claimable(
        self, ref: Holder, live_after: When, *, pinned: bool, limit: int
    ) -> list[Account]:
        """Free accounts to claim, locked (others skip them): those pinned to ``ref`` (or its
        pool), or (not ``pinned``) those of the shared pool."""
        a = tables.accounts
        which = (a.c.worker.is_not(None), _eligible(ref)) if pinned else (a.c.worker.is_(None),)
        query = (
            select(a)
            .where(a.c.enabled, _free(live_after), _first_enabled_copy(), *which)
            .order_by(a.c.id)
            .limit(limit)
            .with_for_update(of=a, skip_locked=True, key_share=True)
        )
        return self._accounts((await self.conn.execute(query)).all())

    async def take(self, ref: Holder, account_ids: list[int], now: When) -> None:
        """Lease these accounts to ``ref`` (taking them from a dead holder), acquired ``now``
        (the same for all: a value or the database's clock)."""
        ins = dialect_insert(self.conn, tables.leases).values(acquired_at=now)
        upsert = ins.on_conflict_do_update(
            index_elements=["account_id"],
            set_={
                "worker_id": ins.excluded.worker_id,
                "instance": ins.excluded.instance,
                "acquired_at": ins.excluded.acquired_at,
                "registered_at": None,  # the new holder has not registered it yet
            },
        )
        await self.conn.execute(
            upsert,
            [{"account_id": i, "worker_id": ref.id, "instance": ref.instance} for i in account_ids],
        )

    async def someone_below(self, ref: Holder, share: int, live_after: When) -> bool:
        """Some other live shared worker holds fewer than ``share - 1`` shared accounts."""
        w, a = tables.workers, tables.accounts
        counts = (
            select(w.c.id, func.count(tables.leases.c.account_id).label("n"))
            .select_from(
                w.outerjoin(
                    tables.leases,
                    and_(
                        tables.leases.c.worker_id == w.c.id,
                        tables.leases.c.instance == w.c.instance,
                    ),
                )
            )
            .outerjoin(a, and_(a.c.id == tables.leases.c.account_id, a.c.worker.is_(None)))
            .where(worker_live(live_after), w.c.shared, ~w.c.remote, w.c.id != ref.id)
            .group_by(w.c.id)
        )
        return any(r.n < share - 1 for r in await self.conn.execute(counts))

    async def excess_shared(self, ref: Holder, limit: int) -> list[int]:
        """The newest shared accounts this instance holds, to hand over."""
        a = tables.accounts
        ids = await self.conn.execute(
            select(a.c.id)
            .where(a.c.id.in_(self._mine_ids(ref)), a.c.worker.is_(None))
            .order_by(a.c.id.desc())
            .limit(limit)
        )
        return [int(r[0]) for r in ids]

    async def release(self, ref: Holder, account_ids: list[int]) -> None:
        await self.conn.execute(
            delete(tables.leases).where(
                tables.leases.c.worker_id == ref.id,
                tables.leases.c.instance == ref.instance,
                tables.leases.c.account_id.in_(account_ids),
            )
        )

    async def mark_registered(self, ref: Holder, account_ids: list[int], now: datetime) -> None:
        """The holder's first "registered" on these leases."""
        await self.conn.execute(
            update(tables.leases)
            .where(
                tables.leases.c.account_id.in_(account_ids),
                tables.leases.c.worker_id == ref.id,
                tables.leases.c.instance == ref.instance,
                tables.leases.c.registered_at.is_(None),
            )
            .values(registered_at=now)
        )
