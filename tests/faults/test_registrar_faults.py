"""The registrar stops answering (issue 18, item 4): a real Kamailio is stopped (SIGSTOP) under
a RegistrationManager holding 120 accounts whose refreshes fall in the outage, then resumed.

Each account shows the failure with its reason and a retry time (capped exponential backoff,
jittered per account, so the retries are spread out), and every account comes back when the
registrar answers again. The peak REGISTER rate offered on the way back is printed (a figure,
not asserted). The second test runs with ``max_pending`` (10) below the number of refreshes
due at once: no account shows "registered" once its binding has run out, neither those whose
refresh waits for room nor those whose refresh is out unanswered, and all come back paced.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from telesip.domain import RegistrationReport
from telesip.sip import RegistrationPolicy
from telesip.workers import AccountConfig
from telesip.workers.registrar import RegistrationManager

from .conftest import Kamailio

N = 120
POLICY = RegistrationPolicy(retry_base=1.0, retry_max=4.0, t1=0.05, t2=0.4)


def _family(pid: int) -> list[int]:
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid, *(int(p) for p in kids.split())]


async def test_a_silent_registrar_fails_each_account_with_its_reason_and_all_come_back(
    kamailio: Kamailio,
) -> None:
    def sink(status: RegistrationReport) -> None:
        return None

    manager = RegistrationManager(
        status_sink=sink,
        bind_host="127.0.0.1",
        udp_port=0,
        policy=POLICY,
        max_pending=N,
        keepalive_interval=0,
    )
    await manager.start()
    family = await asyncio.to_thread(_family, kamailio.inner.proc.pid)
    try:
        for i in range(N):
            login = f"rs{i}"
            manager.apply(
                AccountConfig(
                    i + 1, login, f"pw-{login}", "127.0.0.1", port=kamailio.port, expires=4
                )
            )
        await _until(manager, "registered", 30)
        for pid in family:
            os.kill(pid, signal.SIGSTOP)
        try:  # the expiry is reported first (no retry time), then each refresh's timeout
            await _until(manager, "unreachable", 20, retrying=True)
        finally:
            for pid in family:
                os.kill(pid, signal.SIGCONT)
        failed = [manager.status(i + 1) for i in range(N)]
        assert all(st.error for st in failed), failed[:3]  # the reason, per account
        retries = {st.next_retry_at for st in failed}
        assert None not in retries and len(retries) > N // 2, "retries are jittered, spread out"
        sent0 = last = manager.stats.register_sent
        t0 = last_at = time.monotonic()
        peak = 0.0
        while not _all(manager, "registered"):
            assert time.monotonic() - t0 < 30, "not all registered again"
            await asyncio.sleep(0.1)
            now = time.monotonic()
            peak = max(peak, (manager.stats.register_sent - last) / (now - last_at))
            last, last_at = manager.stats.register_sent, now
        took = time.monotonic() - t0
        sent = manager.stats.register_sent - sent0
        print(f"registrar back: {N} registered again in {took:.1f} s, peak {peak:.0f} "
              f"REGISTER/s offered ({sent} sent)")  # fmt: skip
    finally:
        await manager.stop(grace=1.0)


async def test_held_back_refreshes_do_not_show_registered_past_their_expiry(
    kamailio: Kamailio,
) -> None:
    manager = RegistrationManager(
        bind_host="127.0.0.1", udp_port=0, policy=POLICY, max_pending=10, keepalive_interval=0
    )
    await manager.start()
    family = await asyncio.to_thread(_family, kamailio.inner.proc.pid)
    stale: list[tuple[int, float]] = []
    crowd: list[int] = []

    def check() -> None:
        now = datetime.now(UTC)
        crowd.append(manager._busy)  # requests in flight: never above max_pending
        for i in range(N):
            until = manager.registered_until(i + 1)
            # the manager's expiry timer runs before this sample on the same loop; the
            # slack is its wake-up granularity
            if manager.status(i + 1).state != "registered" or until is None:
                continue
            if (late := (now - until).total_seconds()) > 0.05:
                stale.append((i + 1, late))

    try:
        for i in range(N):
            login = f"rh{i}"
            manager.apply(
                AccountConfig(
                    i + 1, login, f"pw-{login}", "127.0.0.1", port=kamailio.port, expires=4
                )
            )
        await _until(manager, "registered", 30)
        for pid in family:
            os.kill(pid, signal.SIGSTOP)
        try:
            await _until(manager, "unreachable", 20, check)
        finally:
            for pid in family:
                os.kill(pid, signal.SIGCONT)
        assert not stale, f"{len(stale)} samples showed registered past the expiry: {stale[:5]}"
        assert all(manager.status(i + 1).error for i in range(N))
        t0 = time.monotonic()
        sent0 = manager.stats.register_sent
        await _until(manager, "registered", 40, check)
        assert not stale, stale[:5]
        assert max(crowd) <= 10
        took, sent = time.monotonic() - t0, manager.stats.register_sent - sent0
        print(f"registrar back (max_pending 10): {N} registered in {took:.1f} s, {sent} sent")
    finally:
        await manager.stop(grace=1.0)


def _all(manager: RegistrationManager, state: str, retrying: bool = False) -> bool:
    return all(
        (st := manager.status(i + 1)).state == state and (st.next_retry_at or not retrying)
        for i in range(N)
    )


async def _until(
    manager: RegistrationManager,
    state: str,
    within: float,
    check: Callable[[], None] = lambda: None,
    *,
    retrying: bool = False,
) -> None:
    deadline = time.monotonic() + within
    while not _all(manager, state, retrying):
        check()
        states = Counter(manager.status(i + 1).state for i in range(N))
        assert time.monotonic() < deadline, f"not all {state} within {within}s: {states}"
        await asyncio.sleep(0.05)
