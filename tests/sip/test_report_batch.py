"""The report batch keeps one report per account (the latest, in the order the accounts first
changed), puts a failed batch back under newer reports, and flushes early only when asked."""

from __future__ import annotations

import asyncio
import time

from telesip.domain import RegistrationReport, RegState
from telesip.workers.status import ReportBatch

R = RegistrationReport


def test_one_report_per_account_latest_wins_first_change_first() -> None:
    batch = ReportBatch()
    batch.put(R(1, RegState.REGISTERING))
    batch.put(R(2, RegState.REGISTERING))
    batch.put(R(1, RegState.REGISTERED, 200))
    batch.put(R(3, RegState.AUTH_FAILED, 403, "403 Forbidden"))
    assert len(batch) == 3
    assert batch.take() == [
        R(1, RegState.REGISTERED, 200),
        R(2, RegState.REGISTERING),
        R(3, RegState.AUTH_FAILED, 403, "403 Forbidden"),
    ]
    assert len(batch) == 0 and batch.take() == []


def test_a_batch_put_back_goes_first_under_newer_reports() -> None:
    batch = ReportBatch()
    batch.put(R(1, RegState.REGISTERED, 200))
    batch.put(R(2, RegState.REGISTERED, 200))
    failed = batch.take()  # the write failed meanwhile
    batch.put(R(3, RegState.REGISTERING))
    batch.put(R(2, RegState.UNREACHABLE, 503, "503 Service Unavailable"))
    batch.put_back(failed)
    assert batch.take() == [
        R(1, RegState.REGISTERED, 200),
        R(2, RegState.UNREACHABLE, 503, "503 Service Unavailable"),  # newer than the failed one
        R(3, RegState.REGISTERING),
    ]


def test_forget_drops_the_accounts_reports() -> None:
    batch = ReportBatch()
    for i in (1, 2, 3):
        batch.put(R(i, RegState.REGISTERED, 200))
    batch.forget({2, 4})
    assert [r.account_id for r in batch.take()] == [1, 3]


async def test_due_waits_the_interval_unless_a_flush_is_wanted_soon() -> None:
    batch = ReportBatch()
    t0 = time.monotonic()
    await batch.due(0.2)
    assert time.monotonic() - t0 >= 0.19  # nothing asked for: the whole interval
    batch.flush_soon()
    t0 = time.monotonic()
    await batch.due(5.0, gather=0.01)
    assert time.monotonic() - t0 < 2.0  # asked for: at once, after gathering the burst
    later = asyncio.get_running_loop().call_later(0.05, batch.flush_soon)
    t0 = time.monotonic()
    await batch.due(5.0, gather=0.01)
    later.cancel()
    assert 0.04 <= time.monotonic() - t0 < 2.0  # the request is not remembered past a flush
