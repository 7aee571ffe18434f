"""Registration reports from workers, written in batches.

A worker registering 10,000 accounts produces tens of thousands of status changes in a minute;
they are written a batch per transaction (one UPDATE executed for many rows), and audited and
published only where the state or its code changed. A worker writes only the accounts it holds
a lease on, so a worker that lost an account can never overwrite its new holder's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update

from telesip.domain import events
from telesip.domain.model import RegistrationReport, RegState
from telesip.services import fleet
from telesip.services.context import Services
from telesip.services.fleet import WorkerRef
from telesip.store import tables as t
from telesip.store.uow import UnitOfWork

_WRITE = (
    update(t.accounts)
    .where(t.accounts.c.id == bindparam("b_id"))
    .values(
        reg_state=bindparam("b_state"),
        reg_code=bindparam("b_code"),
        reg_error=bindparam("b_error"),
        reg_next_retry_at=bindparam("b_retry"),
        reg_changed_at=bindparam("b_at"),
    )
)


def _stored(r: RegistrationReport) -> tuple[str, int | None, str | None, datetime | None]:
    return (r.state, r.code, r.error[:255] if r.error else None, r.next_retry_at)


async def _mark_registered(
    uow: UnitOfWork, holder: WorkerRef, reports: Iterable[RegistrationReport]
) -> None:
    """The holder's first "registered" on a lease: a worker that handed the account over
    un-REGISTERs its own contact only once this is set (``fleet.taken_over``)."""
    ids = [r.account_id for r in reports if r.state == "registered"]
    if ids:
        await uow.conn.execute(
            update(t.leases)
            .where(
                t.leases.c.account_id.in_(ids),
                t.leases.c.worker_id == holder.id,
                t.leases.c.instance == holder.instance,
                t.leases.c.registered_at.is_(None),
            )
            .values(registered_at=uow.now)
        )


async def report_many(
    s: Services, reports: Sequence[RegistrationReport], holder: WorkerRef | None
) -> int:
    """Store the latest report per account where it says something new (a refresh that
    changes nothing writes nothing); returns how many accounts were written."""
    latest = {r.account_id: r for r in reports}
    if not latest:
        return 0
    for r in latest.values():
        RegState(r.state)
    a = t.accounts
    async with s.uow() as uow:
        query = select(
            a.c.id, a.c.reg_state, a.c.reg_code, a.c.reg_error, a.c.reg_next_retry_at
        ).where(a.c.id.in_(list(latest)))
        if holder is not None:
            query = query.join(
                t.leases,
                and_(
                    t.leases.c.account_id == a.c.id,
                    t.leases.c.worker_id == holder.id,
                    t.leases.c.instance == holder.instance,
                ),
            )
        current = {row.id: tuple(row[1:]) for row in await uow.conn.execute(query)}
        if holder is not None:
            await _mark_registered(uow, holder, latest.values())
        new = [
            r
            for r in latest.values()
            if r.account_id in current and current[r.account_id] != _stored(r)
        ]
        if not new:
            await uow.commit()
            return 0
        await uow.conn.execute(
            _WRITE,
            [
                dict(zip(("b_state", "b_code", "b_error", "b_retry"), _stored(r), strict=True))
                | {"b_id": r.account_id, "b_at": uow.now}
                for r in new
            ],
        )
        # "registering" is a passing state: not history, not a webhook; the outcome is
        changed = [
            r
            for r in new
            if current[r.account_id][:2] != (r.state, r.code) and r.state != "registering"
        ]
        await uow.audit.add_many(
            [
                {
                    "at": uow.now,
                    "actor_id": None,
                    "account_id": r.account_id,
                    "action": "registration",
                    "details": {"state": r.state, "code": r.code},
                }
                for r in changed
            ]
        )
        uow.events.extend(
            events.RegistrationChanged(r.account_id, None, state=r.state, code=r.code)
            for r in changed
        )
        await uow.commit()
    return len(new)


async def report_unheld(s: Services, account_ids: list[int], *, ttl: float) -> None:
    """Accounts a worker let go (pinned elsewhere, un-pinned) that no live worker took: they
    show as unregistered, not as the registration that just ended."""
    free = await fleet.unheld(s, account_ids, ttl=ttl)
    why = "no live worker may hold it (see its worker setting)"
    await report_many(
        s, [RegistrationReport(a, RegState.UNREGISTERED, None, why) for a in free], None
    )
