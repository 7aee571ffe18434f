"""Benchmark (issue 18, item 4): the registrar of N accounts restarts, and they come back paced.

    .venv/bin/python bench/bench_registrar_restart.py [-n 50000] [--expires 60] [--down 70]
        [--max-pending 500]

One RegistrationManager (as in a worker, ``max_pending`` REGISTERs in flight at most) registers
N accounts at a local Kamailio (in-memory location table). Then Kamailio stops (SIGTERM) for
--down seconds, longer than a refresh interval, so every account's refresh meets a registrar that
does not answer, and a fresh Kamailio starts on the same port with an empty location table.

A meter reads the manager's counters every second. Printed:
  - the initial registration: time, rate, and the peak REGISTERs/s offered (the reference: the
    same manager at the same max_pending, as fast as the registrar answers);
  - while down: the REGISTERs/s offered to the dead registrar (retransmissions and retries);
  - after the restart: the time until the registrar holds all N bindings again and until the
    manager reports all N registered, the peak REGISTERs/s offered (and its ratio to the
    initial peak: above 1 would be a thundering herd), the most REGISTERs in flight (at most
    max_pending);
  - the load average at each phase.
Needs kamailio (bin/system-deps).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_register import kam_stats, kamailio

from telesip.domain import RegistrationReport
from telesip.workers import AccountConfig, RegistrationManager


@dataclass
class Meter:
    """The manager's REGISTERs sent and in flight, and the accounts it reports registered,
    once a second."""

    manager: RegistrationManager
    states: dict[int, str]  # account -> its last reported state
    rows: list[tuple[float, int, int, int]] = field(default_factory=list)  # t, sent/s, busy, up

    def registered(self) -> int:
        return sum(1 for s in self.states.values() if s == "registered")

    async def run(self) -> None:
        last = self.manager.stats.register_sent
        while True:
            await asyncio.sleep(1.0)
            sent = self.manager.stats.register_sent
            busy = self.manager._busy  # REGISTERs in flight now (a private counter)
            self.rows.append((time.monotonic(), sent - last, busy, self.registered()))
            last = sent

    def peak(self, since: float, until: float) -> tuple[int, int]:
        """The most REGISTERs offered in one second, and in flight, in [since, until)."""
        picked = [r for r in self.rows if since <= r[0] < until] or [(0.0, 0, 0, 0)]
        return max(r[1] for r in picked), max(r[2] for r in picked)

    def mean_rate(self, since: float, until: float) -> float:
        picked = [r[1] for r in self.rows if since <= r[0] < until]
        return sum(picked) / max(1, len(picked))


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


async def until(probe, within: float, what: str) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while not await asyncio.to_thread(probe):
        if time.monotonic() - began > within:
            raise SystemExit(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=50_000)
    ap.add_argument("--expires", type=int, default=60)
    ap.add_argument("--down", type=float, default=70.0, help="seconds the registrar is away")
    ap.add_argument("--max-pending", type=int, default=500)
    ap.add_argument("--children", type=int, default=4, help="Kamailio UDP workers")
    args = ap.parse_args()
    n = args.n
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        states: dict[int, str] = {}

        def sink(report: RegistrationReport) -> None:
            states[report.account_id] = report.state

        manager = RegistrationManager(
            bind_host="127.0.0.1", max_pending=args.max_pending, status_sink=sink
        )
        meter = Meter(manager, states)
        await manager.start()
        metering = asyncio.create_task(meter.run())
        try:
            with kamailio(tmp / "before", args.children) as (port, rpc):
                t0 = time.monotonic()
                for i in range(n):
                    manager.apply(AccountConfig(
                        account_id=i + 1, login=f"b{i}", password=f"pw-b{i}",
                        domain="127.0.0.1", port=port, expires=args.expires,
                    ))  # fmt: skip
                took = await until(lambda: meter.registered() == n, 900, "all registered")
                first, first_busy = meter.peak(t0, time.monotonic())
                print(f"{n} registered in {took:.1f} s ({n / took:.0f}/s); peak offered "
                      f"{first} REGISTER/s, at most {first_busy} in flight (load {load()})",
                      flush=True)  # fmt: skip
                held = kam_stats(rpc).get("usrloc:registered_users", 0)
                print(f"registrar holds {held} bindings; stopping it", flush=True)
            down = time.monotonic()
            await asyncio.sleep(args.down)
            up = time.monotonic()
            away = meter.mean_rate(down, up)
            gone = n - meter.registered()
            print(f"registrar away {args.down:.0f} s: {away:.0f} REGISTER/s offered on average, "
                  f"{gone} reported not registered (load {load()})", flush=True)  # fmt: skip
            with kamailio(tmp / "after", args.children, port=port) as (_, rpc):
                up = time.monotonic()
                back = await until(
                    lambda: kam_stats(rpc).get("usrloc:registered_users", 0) >= n,
                    1800,
                    "all bindings back at the registrar",
                )
                reported = await until(lambda: meter.registered() == n, 600, "all reported")
                peak, busy = meter.peak(up, time.monotonic())
                print(f"after the restart: all {n} bindings back at the registrar in {back:.1f} s, "
                      f"all reported registered {back + reported:.1f} s after it; peak offered "
                      f"{peak} REGISTER/s = {peak / max(1, first):.2f}x the initial registration's "
                      f"peak, at most {busy} in flight (max_pending {args.max_pending}) "
                      f"(load {load()})", flush=True)  # fmt: skip
                per_second = [r[1] for r in meter.rows if r[0] >= up]
                print(f"REGISTER/s after the restart, each second: {per_second}", flush=True)
                await manager.stop(grace=30)  # un-REGISTER while the registrar answers
        finally:
            metering.cancel()


if __name__ == "__main__":
    asyncio.run(main())
