"""The registrar stops answering (issue 18, item 4): a real Kamailio is stopped (SIGSTOP) under
a RegistrationManager holding 120 accounts whose refreshes fall in the outage, then resumed.

Each account shows the failure with its reason and a retry time (capped exponential backoff,
jittered per account, so the retries are spread out), and every account comes back when the
registrar answers again. The peak REGISTER rate offered on the way back is printed (a figure,
not asserted). ``max_pending`` is the number of accounts here: with fewer slots than refreshes
due at once, the held-back accounts kept showing "registered" past their expiry (a known gap,
reported on issue 18), which this test does not cover yet.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections import Counter

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
        try:
            await _until(manager, "unreachable", 20)
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


def _all(manager: RegistrationManager, state: str) -> bool:
    return all(manager.status(i + 1).state == state for i in range(N))


async def _until(manager: RegistrationManager, state: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not _all(manager, state):
        states = Counter(manager.status(i + 1).state for i in range(N))
        assert time.monotonic() < deadline, f"not all {state} within {within}s: {states}"
        await asyncio.sleep(0.05)
