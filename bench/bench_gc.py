"""The garbage collector's pauses on the bot's and the API's event loop: their heaviest requests
(the bot's /softphone for an owner with 1,000 accounts, its text and keyboard rendered; the
API's ``GET /api/v1/accounts?limit=500`` through the ASGI app, two pages), ``--clients`` at a
time (one: a request's own CPU on the loop is then the floor of the stall), under each
setting of the collector, each in a fresh process on the service's event loop.

    .venv/bin/python bench/bench_gc.py [--seconds 8] [--database sqlite|postgresql]
        [--settings tuned,requests,5000,freeze,default] [--clients 1]

Settings: ``tuned`` is `eventloop.tune_gc()` (young collections every 50,000 net allocations,
what `telesip run` and `worker` call); ``requests`` is what `bot` and `api` call
(`eventloop.GC_REQUEST_THRESHOLDS`, 10,000); a number N is the same freeze with a young
threshold of N (and 10, 10 above it); ``freeze`` is `gc.freeze()` after start-up with CPython's
thresholds (700, 10, 10); ``default`` is CPython's collector untouched. Printed per setting and
workload: requests/s, this process's CPU per request (and the most one request took, in the
thread's CPU time: with one client, what it held the loop for; the ASGI client's side of a
listing runs in this process too), the longest the loop went without running a probe that asks
to run every millisecond (wall time: a request's own CPU on the loop counts too, SQLite reads
run there, and so does waiting for a core on a loaded machine), and the collections
(``gc.callbacks``, in CPU time): how many, the longest, their total.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

OWNER = 5001
ACCOUNTS = 1000


def apply(setting: str) -> None:
    from telesip import eventloop

    if setting == "tuned":
        eventloop.tune_gc()
    elif setting == "requests":
        eventloop.tune_gc(eventloop.GC_REQUEST_THRESHOLDS)
    elif setting == "freeze":
        gc.collect()
        gc.freeze()
    elif setting.isdigit():
        gc.collect()
        gc.freeze()
        gc.set_threshold(int(setting), 10, 10)
    elif setting != "default":
        raise SystemExit(f"unknown setting {setting}")


class Pauses:
    """Each collection's duration in this thread's CPU time (a loaded machine's waits for a
    core left out), from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.thread_time()
        else:
            self.times.append(time.thread_time() - self._start)


async def prepare(url: str) -> str:
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
    deps = Dependencies(engine, Cipher("bench-gc"))
    key = await operators.create_api_key(deps, "bench", Scope(all=True))
    owner = TelegramUser(OWNER, "Big")
    for n in range(ACCOUNTS):
        settings = AccountSettings(login=f"g{n}", password=Secret("pw"), domain="pbx.example.com")
        await accounts.create_account(deps, owner, settings)
    await engine.dispose()
    return key.token


async def measure(
    url: str, token: str, setting: str, seconds: float, clients: int
) -> list[dict[str, Any]]:
    import httpx

    from telesip.api.app import create_app
    from telesip.bot import views
    from telesip.domain.model import TelegramUser
    from telesip.services import accounts
    from telesip.services.dependencies import Dependencies
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine(url)
    deps = Dependencies(engine, Cipher("bench-gc"))
    owner = TelegramUser(OWNER, "Big")
    app = create_app(deps)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")
    headers = {"Authorization": f"Bearer {token}"}

    async def bot() -> None:
        found = await accounts.softphone(deps, owner)
        views.softphone("en", found, page=0, table_url=None)

    async def api() -> None:
        after = 0
        while True:
            page = await client.get(f"/api/v1/accounts?limit=500&after_id={after}", headers=headers)
            body = page.json()
            if not body["next_after_id"]:
                break
            after = body["next_after_id"]

    apply(setting)
    pauses = Pauses()
    gc.callbacks.append(pauses)
    results = []
    try:
        for name, request in (("bot /softphone", bot), ("api listing", api)):
            for _ in range(3):
                await request()  # warm: connections, statements, caches
            pauses.times.clear()
            results.append(await run(name, request, seconds, clients) | collections(pauses.times))
    finally:
        gc.callbacks.remove(pauses)
        await client.aclose()
        await engine.dispose()
    return results


def collections(times: list[float]) -> dict[str, Any]:
    return {
        "collections": len(times),
        "gc_max_ms": max(times, default=0) * 1000,
        "gc_total_ms": sum(times) * 1000,
    }


async def run(
    name: str, request: Callable[[], Awaitable[None]], seconds: float, clients: int
) -> dict[str, Any]:
    stop = time.perf_counter() + seconds
    done = 0
    worst = 0.0

    longest = 0.0

    async def client() -> None:
        nonlocal done, longest
        while time.perf_counter() < stop:
            t0 = time.thread_time()
            await request()
            longest = max(longest, time.thread_time() - t0)
            done += 1
            await asyncio.sleep(0)  # the answer's I/O gives the loop back

    async def probe() -> None:
        nonlocal worst
        last = time.perf_counter()
        while last < stop:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.001)
            last = now

    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(probe(), *(client() for _ in range(clients)))
    cpu = time.process_time() - cpu
    return {
        "workload": name,
        "per_s": done / (time.perf_counter() - began),
        "cpu_ms": cpu / max(done, 1) * 1000,
        "stall_ms": worst * 1000,
        "request_cpu_ms": longest * 1000,  # one client: the most a request held the loop
    }


def child(args: argparse.Namespace) -> None:
    from telesip import eventloop

    results = eventloop.run(measure(args.url, args.token, args.child, args.seconds, args.clients))
    print(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--settings", default="tuned,requests,5000,freeze,default")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    from telesip import eventloop

    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'gc.db'}"
        else:
            name = f"bench_gc_{uuid.uuid4().hex[:8]}"
            subprocess.run(["psql", args.pg, "-qc", f'CREATE DATABASE "{name}"'], check=True)
            url = args.pg.rpartition("/")[0].replace("postgresql:", "postgresql+asyncpg:")
            url += f"/{name}"
        try:
            token = eventloop.run(prepare(url))
            print(f"{args.database}, {ACCOUNTS} accounts, {args.clients} clients, loop "
                  f"{eventloop.loop_name()}, load {os.getloadavg()}", flush=True)  # fmt: skip
            for setting in args.settings.split(","):
                cmd = [sys.executable, __file__, "--child", setting, "--url", url]
                cmd += [
                    "--token",
                    token,
                    "--seconds",
                    str(args.seconds),
                    "--clients",
                    str(args.clients),
                ]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                for r in json.loads(out.stdout.strip().splitlines()[-1]):
                    print(
                        f"{setting:>8} {r['workload']:15} {r['per_s']:6.1f}/s  "
                        f"CPU {r['cpu_ms']:5.2f} ms/request (at most {r['request_cpu_ms']:5.1f})  "
                        f"longest stall {r['stall_ms']:5.1f} ms"
                        f"  collections {r['collections']:4d}, longest {r['gc_max_ms']:5.1f} ms, "
                        f"total {r['gc_total_ms']:6.1f} ms  (load {os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
        finally:
            if args.database == "postgresql":
                drop = f'DROP DATABASE "{name}" WITH (FORCE)'
                subprocess.run(["psql", args.pg, "-qc", drop], check=False)


if __name__ == "__main__":
    main()
