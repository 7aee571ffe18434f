"""Workers fleet benchmark: N accounts (default 30,000) over three `telesip worker` processes on
one machine, against one Kamailio and the local PostgreSQL.

    .venv/bin/python bench/bench_fleet.py [-n 30000] [--expires 300] [--ttl 10] [--steady 60]

Prints: time until every account is registered; database statements per second the workers
spend in steady state (leases, heartbeats, change polling, reports: all of it); the time from a
kill -9 of one worker until all of its accounts are registered again by the other two.
Needs kamailio (bin/system-deps) and PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
from bench_register import kamailio

from telesip.domain.settings import AccountSettings, Secret
from telesip.store import migrate, tables
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.rows import settings_values

KEY = "bench-fleet-key"
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"


async def provision(url: str, n: int, port: int, expires: int) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    cipher, now = Cipher(KEY), datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(tables.users).values(id=1, first_name="bench", created_at=now))
        rows = []
        for i in range(n):
            st = AccountSettings(
                login=f"b{i}",
                password=Secret(f"pw-b{i}"),
                domain="127.0.0.1",
                port=port,
                expires=expires,
            )
            rows.append(
                settings_values(st)
                | {
                    "owner_id": 1,
                    "user_id": 1,
                    "payer": "operator",
                    "via_link": False,
                    "enabled": True,
                    "password_enc": cipher.encrypt(st.password),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for start in range(0, n, 5000):
            await conn.execute(insert(tables.accounts), rows[start : start + 5000])
    await engine.dispose()


async def scalar(url: str, stmt: object) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return int(await conn.scalar(stmt) or 0)  # type: ignore[call-overload]
    finally:
        await engine.dispose()


async def worker_stats(url: str) -> dict[str, dict[str, int]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(tables.workers.c.name, tables.workers.c.stats))
            return {r.name: dict(r.stats) for r in rows}
    finally:
        await engine.dispose()


def accepted(rpc: Callable[..., str]) -> int:
    """Kamailio's registrar:accepted_regs counter."""
    for line in rpc("stats.get_statistics", "all").splitlines():
        if line.strip().startswith("registrar:accepted_regs"):
            return int(line.rsplit("=", 1)[1].strip())
    raise RuntimeError("kamailio has no registrar:accepted_regs statistic")


def start_worker(name: str, url: str, ttl: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TELESIP_DATABASE_URL": url,
        "TELESIP_SECRET_KEY": KEY,
        "TELESIP_WORKER_NAME": name,
        "TELESIP_SIP_BIND": "127.0.0.1:0",
        "TELESIP_LEASE_TTL_SECONDS": str(ttl),
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "telesip.cli", "worker"],
        env=env,
        stdout=(tmp / f"{name}.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=30_000)
    ap.add_argument("--expires", type=int, default=300)
    ap.add_argument("--ttl", type=int, default=10)
    ap.add_argument("--steady", type=float, default=60)
    args = ap.parse_args()
    db = f"telesip_fleet_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = f"{PG}/{db}"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    registered = select(func.count()).where(tables.accounts.c.reg_state == "registered")
    try:
        with tempfile.TemporaryDirectory() as tmp_s, kamailio(Path(tmp_s), children=4) as kam:
            tmp = Path(tmp_s)
            port, rpc = kam
            await provision(url, args.n, int(port), args.expires)
            began = time.monotonic()
            for name in ("w1", "w2", "w3"):
                procs[name] = start_worker(name, url, args.ttl, tmp)
            while (done := await scalar(url, registered)) < args.n:
                if time.monotonic() - began > 900:
                    raise SystemExit(f"only {done}/{args.n} registered after 900 s")
                await asyncio.sleep(0.5)
            took = time.monotonic() - began
            print(
                f"all {args.n} registered by 3 workers in {took:.1f} s ({args.n / took:.0f}/s)",
                flush=True,
            )

            await asyncio.sleep(args.ttl)  # let the last reports land and a heartbeat pass
            before = await worker_stats(url)
            t0 = time.monotonic()
            await asyncio.sleep(args.steady)
            after = await worker_stats(url)
            spent = time.monotonic() - t0
            qps = (
                sum(
                    after[w].get("db_statements", 0) - before[w].get("db_statements", 0)
                    for w in after
                )
                / spent
            )
            print(
                f"steady state: {qps:.1f} database statements/s for all three workers "
                f"(heartbeats, lease claims, change polling, reports)",
                flush=True,
            )

            victim_q = (
                select(tables.leases.c.account_id)
                .join(tables.workers, tables.workers.c.id == tables.leases.c.worker_id)
                .where(tables.workers.c.name == "w2")
            )
            engine = create_engine(url)
            async with engine.connect() as conn:
                victim = [int(r[0]) for r in await conn.execute(victim_q)]
            killed_at = datetime.now(UTC)
            k0 = time.monotonic()
            os.killpg(procs.pop("w2").pid, signal.SIGKILL)
            # Kamailio's count of accepted REGISTERs: the victim's accounts are registered
            # again when it has grown by their number (no refresh falls in this window: the
            # first refreshes come 0.8 x expires after the start). The database cannot tell:
            # their state was "registered" before and is again, so nothing is written.
            accepted0 = accepted(rpc)
            while (n_again := accepted(rpc) - accepted0) < len(victim):
                if time.monotonic() - k0 > 300:
                    raise SystemExit(f"only {n_again}/{len(victim)} taken over after 300 s")
                await asyncio.sleep(0.1)
            took = time.monotonic() - k0
            async with engine.connect() as conn:
                first, last = (
                    await conn.execute(
                        select(
                            func.min(tables.leases.c.acquired_at),
                            func.max(tables.leases.c.acquired_at),
                        ).where(tables.leases.c.account_id.in_(victim))
                    )
                ).one()
            await engine.dispose()
            print(
                f"  leases taken over {(first - killed_at).total_seconds():.1f}–"
                f"{(last - killed_at).total_seconds():.1f} s after the kill",
                flush=True,
            )
            print(
                f"kill -9 of a worker holding {len(victim)} accounts: all registered again "
                f"by the others after {took:.1f} s (TTL {args.ttl} s)"
            )
    finally:
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
