"""Account-core benchmark: offer -> receive -> transfer-back cycles per second, and the
/softphone listing for an owner with 1,000 accounts.

    .venv/bin/python bench/bench_core.py [--seconds 10] [--pg URL] [--clients 8]

SQLite runs with one client (a file in a temporary directory); PostgreSQL with --clients
concurrent clients, each on its own accounts, in a fresh database on the server at --pg.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from telesip.domain.model import Method, TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, offers
from telesip.services.context import Services
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

PASSWORD = "bench-Pa55word"


def settings(i: int) -> AccountSettings:
    return AccountSettings(login=f"u{i}", password=Secret(PASSWORD), domain="pbx.example.com")


async def cycles(s: Services, clients: int, seconds: float) -> tuple[float, float]:
    """Each client owns one account and runs the full R3/R6/R7 cycle as fast as it can.
    Returns cycles per second and this process's CPU per cycle in µs (robust to a shared box)."""
    owners = [TelegramUser(10_000 + i, f"Owner{i}") for i in range(clients)]
    takers = [TelegramUser(20_000 + i, f"Taker{i}") for i in range(clients)]
    ids = [await accounts.create_account(s, o, settings(i)) for i, o in enumerate(owners)]
    done = 0
    stop = time.perf_counter() + seconds

    async def client(i: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            offer = await offers.create_offer(s, owners[i], ids[i], Method.UNLINK)
            await offers.receive(s, takers[i], offer.id)
            await offers.transfer_back(s, owners[i], ids[i], PASSWORD)
            done += 1

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(i) for i in range(clients)))
    cpu = time.process_time() - cpu
    return done / (time.perf_counter() - began), cpu / max(done, 1) * 1e6


async def listing(s: Services, n: int = 1000, rounds: int = 50) -> tuple[float, float]:
    owner = TelegramUser(99, "Big")
    for i in range(n):
        await accounts.create_account(s, owner, settings(100_000 + i))
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        view = await accounts.softphone(s, owner)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(view.owned) == n
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


async def run_backend(name: str, url: str, clients: int, seconds: float) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    s = Services(engine, Cipher("bench"))
    try:
        await cycles(s, clients, min(1.0, seconds))  # warm-up: connections, statement caches
        rate, cpu = await cycles(s, clients, seconds)
        p50, p99 = await listing(s)
        print(
            f"{name:10} clients={clients:2}  cycles/s={rate:8.1f}  CPU/cycle={cpu:6.0f} µs  "
            f"/softphone 1000 accounts: p50={p50:.1f} ms p99={p99:.1f} ms  "
            f"(load {os.getloadavg()[0]:.1f})"
        )
    finally:
        await engine.dispose()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        await run_backend("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}", 1, args.seconds)
    db = f"telesip_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{db}"'))
    except Exception as exc:
        print(f"postgresql skipped: {exc}")
        return
    try:
        base = args.pg.rpartition("/")[0]
        await run_backend("postgresql", f"{base}/{db}", args.clients, args.seconds)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{db}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
