"""Operators' API throughput: one API process (uvicorn, as ``telesip api`` runs it) on a fresh
database, driven over loopback by this process with a few concurrent connections.

Prints requests/s, p50/p99 latency and the API process's CPU per request (its own utime +
stime from /proc, so a busy machine inflates the latencies but hardly the CPU) for ``GET
/api/v1/accounts`` (a page of 100) and for ``POST /api/v1/accounts`` with an
``Idempotency-Key`` (each a new key: the store's claim and its answer are written every time)
and without one; and the idempotency store's own cost per request (``begin`` + ``finish``,
timed in this process against the same database: wall p50/p99 and this process's CPU).

    .venv/bin/python bench/bench_api.py [--database sqlite|postgresql] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PORT = 18931


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def prepare(url: str) -> tuple[str, int]:
    from telesip.domain.model import TelegramUser
    from telesip.domain.operators import Scope
    from telesip.domain.settings import AccountSettings, Secret
    from telesip.services import accounts, operators
    from telesip.services.dependencies import Dependencies
    from telesip.store import migrate
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine(url)
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher("bench-secret-key-material"))
    key = await operators.create_api_key(deps, "bench", Scope(all=True))
    owner = TelegramUser(5001, "Bench")
    for n in range(150):
        settings = AccountSettings(login=f"b{n}", password=Secret("pw"), domain="pbx.example.com")
        await accounts.create_account(deps, owner, settings)
    await engine.dispose()
    return key.token, owner.id


async def drive(
    client: httpx.AsyncClient, make: object, seconds: float, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            r = await make(client)  # type: ignore[operator]
            latencies.append(time.perf_counter() - started)
            if r.status_code >= 400:
                raise SystemExit(f"unexpected {r.status_code}: {r.text[:200]}")

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def store_cost(url: str, n: int) -> tuple[list[float], float, list[float], list[float]]:
    """begin + finish of the idempotency store per request, in this process: the wall times,
    the CPU per request, and as the references, alternating with them, the wall times of one
    ``SELECT 1`` unit of work through the same stack (what one round trip costs right now) and,
    on PostgreSQL, of a bare ``SELECT 1`` on an asyncpg connection of its own (the round trip
    alone)."""
    from sqlalchemy import text

    from telesip.services import idempotency
    from telesip.services.dependencies import Dependencies
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine(url)
    deps = Dependencies(engine, Cipher("bench-secret-key-material"))
    answer = idempotency.Stored(201, [("content-type", "application/json")], b"{}" * 300)

    async def one_round_trip() -> None:
        async with deps.uow(single_statement=True) as uow:
            await uow.conn.execute(text("SELECT 1"))

    out: list[float] = []
    reference: list[float] = []
    bare: list[float] = []
    raw = None
    if url.startswith("postgresql"):
        import asyncpg

        raw = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    for _ in range(20):  # warm: the pool's connection, prepared statements
        key = str(uuid.uuid4())
        await idempotency.begin(deps, "bench-owner", key, "f" * 64)
        await idempotency.finish(deps, "bench-owner", key, answer)
        await one_round_trip()
    cpu = 0.0
    for _ in range(n):
        key = str(uuid.uuid4())
        started, cpu_started = time.perf_counter(), time.process_time()
        await idempotency.begin(deps, "bench-owner", key, "f" * 64)
        await idempotency.finish(deps, "bench-owner", key, answer)
        out.append(time.perf_counter() - started)
        cpu += time.process_time() - cpu_started
        started = time.perf_counter()
        await one_round_trip()
        reference.append(time.perf_counter() - started)
        if raw is not None:
            started = time.perf_counter()
            await raw.execute("SELECT 1")
            bare.append(time.perf_counter() - started)
    if raw is not None:
        await raw.close()
    await engine.dispose()
    return out, cpu / n, reference, bare


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--store-requests", type=int, default=1000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    if args.database == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'telesip.db'}"
    else:
        import asyncpg

        name = f"bench_api_{os.getpid()}"
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    token, owner = await prepare(url)
    print(f"load average {load_average()}")
    env = os.environ | {
        "TELESIP_DATABASE_URL": url,
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_SECRET_KEY": "bench-secret-key-material",
        "TELESIP_API_BIND": f"127.0.0.1:{PORT}",
        "TELESIP_BOT_TOKEN": "",
        "TELESIP_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measuring
        [sys.executable, "-m", "telesip.cli", "api"], env=env, cwd=tmp, stdout=subprocess.DEVNULL
    )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=30) as client:
            for _ in range(600):
                try:
                    if (await client.get("/livez")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            n = 0

            async def page(c: httpx.AsyncClient) -> httpx.Response:
                return await c.get("/api/v1/accounts?limit=100", headers=headers)

            def post(keyed: bool):  # type: ignore[no-untyped-def]
                async def go(c: httpx.AsyncClient) -> httpx.Response:
                    nonlocal n
                    n += 1
                    h = headers | ({"Idempotency-Key": str(uuid.uuid4())} if keyed else {})
                    body = {
                        "owner": {"id": owner},
                        "settings": {
                            "login": f"p{n}",
                            "password": "pw",
                            "domain": "pbx.example.com",
                        },
                    }
                    return await c.post("/api/v1/accounts", json=body, headers=h)

                return go

            print(
                f"database {args.database}, {args.concurrency} connections, {args.seconds} s each"
            )
            for label, make in (
                ("GET /api/v1/accounts (100)", page),
                ("POST /api/v1/accounts, no key", post(False)),
                ("POST /api/v1/accounts + Idempotency-Key", post(True)),
            ):
                await drive(client, make, 1.0, args.concurrency)  # warm up
                cpu = cpu_seconds(server.pid)
                rate, lat = await drive(client, make, args.seconds, args.concurrency)
                cpu = (cpu_seconds(server.pid) - cpu) / len(lat)
                print(
                    f"{label:42s} {rate:7.1f} req/s  p50 {pct(lat, 0.5) * 1000:6.1f} ms  "
                    f"p99 {pct(lat, 0.99) * 1000:6.1f} ms  API CPU {cpu * 1000:5.2f} ms/req  "
                    f"({len(lat)} requests)"
                )
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    cost, cpu, reference, bare = await store_cost(url, args.store_requests)
    print(
        f"idempotency store (begin + finish, one request at a time): p50 "
        f"{statistics.median(cost) * 1000:.2f} ms, p99 {pct(cost, 0.99) * 1000:.2f} ms, "
        f"CPU {cpu * 1000:.2f} ms/req in this process; reference SELECT 1 p50 "
        f"{statistics.median(reference) * 1000:.2f} ms (store = "
        f"{statistics.median(cost) / statistics.median(reference):.1f}x)"
    )
    if bare:
        print(
            f"bare asyncpg SELECT 1 (the round trip alone): p50 "
            f"{statistics.median(bare) * 1000:.3f} ms (store = "
            f"{statistics.median(cost) / statistics.median(bare):.1f} round trips)"
        )
    print(f"load average {load_average()}")
    if args.database == "postgresql":
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
