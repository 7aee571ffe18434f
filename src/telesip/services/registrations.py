"""Registration reports from workers, written in batches.

A worker registering 10,000 accounts produces tens of thousands of status changes in a minute;
they are written a batch per transaction (one UPDATE executed for many rows), and audited and
published only where the state or its code changed. A worker writes only the accounts it holds
a lease on, so a worker that lost an account can never overwrite its new holder's report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from telesip.domain import events
from telesip.domain.model import RegistrationReport, RegState
from telesip.services import leases
from telesip.services.dependencies import Dependencies
from telesip.services.fleet import WorkerRef
from telesip.store.uow import UnitOfWork


def _stored(r: RegistrationReport) -> tuple[str, int | None, str | None, datetime | None]:
    return (r.state, r.code, r.error[:255] if r.error else None, r.next_retry_at)


async def _mark_registered(
    uow: UnitOfWork, holder: WorkerRef, reports: Iterable[RegistrationReport]
) -> None:
    """The holder's first "registered" on a lease: a worker that handed the account over
    un-REGISTERs its own contact only once this is set (``leases.taken_over``)."""
    ids = [r.account_id for r in reports if r.state == "registered"]
    if ids:
        await uow.leases.mark_registered(holder, ids, uow.now)


async def report_many(
    deps: Dependencies, reports: Sequence[RegistrationReport], holder: WorkerRef | None
) -> int:
    """Store the latest report per account where it says something new (a refresh that
    changes nothing writes nothing); returns how many accounts were written."""
    latest = {r.account_id: r for r in reports}
    if not latest:
        return 0
    for r in latest.values():
        RegState(r.state)
    async with deps.uow() as uow:
        current = await uow.accounts.registrations(list(latest), holder)
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
        await uow.accounts.write_registrations(
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


async def report_unheld(deps: Dependencies, account_ids: list[int], *, ttl: float) -> None:
    """Accounts a worker let go (pinned elsewhere, un-pinned) that no live worker took: they
    show as unregistered, not as the registration that just ended."""
    free = await leases.unheld(deps, account_ids, ttl=ttl)
    why = "no live worker may hold it (see its worker setting)"
    await report_many(
        deps, [RegistrationReport(a, RegState.UNREGISTERED, None, why) for a in free], None
    )
