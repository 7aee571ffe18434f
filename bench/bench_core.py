"""Account-core benchmark: offer -> receive -> transfer-back cycles per second, the longest
stall of the event loop during them, and the /softphone listing for an owner with 1,000
accounts; beside the reference program's figures from the same run, and the ratio.

    .venv/bin/python bench/bench_core.py [--seconds 10] [--rounds 3] [--pg URL] [--clients 8]
        [--reference ../shared/reference/db_standin.py] [--standin DB] [--gc tuned|default]
        [--loop auto|uvloop|asyncio]

SQLite runs with one client (a file in a temporary directory); PostgreSQL with --clients
concurrent clients, each on its own accounts, in a fresh database on the server at --pg.
The reference program (``--reference``, a measuring stick outside the project: the same three
transactions written as a plain program) runs as ``--impl sqlite_core --wal on --clients 1``
and ``--impl asyncpg --clients N`` (in its own database, ``--standin``, which it fills itself).
Ours and the reference alternate ``--rounds`` times, so a shared machine's load falls on both;
the medians and their ratio are printed. CPU per cycle is each process's own (robust to load);
on PostgreSQL also the server's (every postgres process's, measured as the reference does).
This process runs with `eventloop.tune_gc()`, as `telesip run` does (``--gc requests`` as `bot`
and `api` tune it, ``--gc default`` for CPython's collector), on the service's event loop
(uvloop when installed, as `eventloop.run` picks it; ``--loop asyncio`` for asyncio's own);
the reference program runs with CPython's collector on asyncio's loop, its own choices.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import text
from sqlalchemy.engine import make_url

from telesip import eventloop
from telesip.domain.model import Method, TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

PASSWORD = "bench-Pa55word"
T = TypeVar("T")
REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference" / "db_standin.py"


def settings(i: int) -> AccountSettings:
    return AccountSettings(login=f"u{i}", password=Secret(PASSWORD), domain="pbx.example.com")


@dataclass
class Cycles:
    per_s: float
    cpu_us: float  # this process's CPU per cycle
    stall_ms: float | None = None  # the longest the loop went without running the probe
    # the most CPU one use case took on the loop's thread: what it held the loop for, without
    # the time a loaded machine kept the process waiting for a core (one client only: with
    # more, a use case's awaits let the others run and their CPU would count too)
    step_cpu_ms: float | None = None
    # the PostgreSQL server's CPU per cycle: every postgres process's, as the reference program
    # measures its own (so others' use of the server on a shared machine counts in both)
    server_us: float | None = None


def postgres_cpu() -> float:
    """utime + stime of every postgres process, in seconds (Linux's /proc)."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")].startswith("postgres"):
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def cycles(
    deps: Dependencies, clients: int, seconds: float, *, first_id: int = 0, probe: bool = False
) -> Cycles:
    """Each client owns one account and runs the full R3/R6/R7 cycle as fast as it can.
    With ``probe``, a task that asks to run every millisecond measures the loop's stalls."""
    owners = [TelegramUser(10_000 + first_id + i, f"Owner{i}") for i in range(clients)]
    takers = [TelegramUser(20_000 + first_id + i, f"Taker{i}") for i in range(clients)]
    ids = [
        await accounts.create_account(deps, o, settings(first_id + i)) for i, o in enumerate(owners)
    ]
    done = 0
    stop = time.perf_counter() + seconds
    worst = 0.0

    steps: list[float] = []

    async def step(call: Awaitable[T]) -> T:
        if not probe or clients > 1:
            return await call
        t0 = time.thread_time()
        result = await call
        steps.append(time.thread_time() - t0)
        # a use case of the service is followed by I/O (the bot's answer, the API's response),
        # which gives the loop back; SQLite's may have no await point that yields, so without
        # this the probe would not run at all (and report no stall)
        await asyncio.sleep(0)
        return result

    async def client(i: int) -> None:
        nonlocal done
        while time.perf_counter() < stop:
            offer = await step(offers.create_offer(deps, owners[i], ids[i], Method.UNLINK))
            await step(offers.receive(deps, takers[i], offer.id))
            await step(offers.transfer_back(deps, owners[i], ids[i], PASSWORD))
            done += 1

    async def stalls() -> None:
        nonlocal worst
        last = time.perf_counter()
        while last < stop:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            worst = max(worst, now - last - 0.001)
            last = now

    pg = deps.engine.dialect.name == "postgresql"
    server = postgres_cpu() if pg else 0.0
    began, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(client(i) for i in range(clients)), *([stalls()] if probe else []))
    cpu = time.process_time() - cpu
    rate = done / (time.perf_counter() - began)
    server = postgres_cpu() - server if pg else 0.0
    if not probe:
        return Cycles(rate, cpu / max(done, 1) * 1e6, server_us=server / max(done, 1) * 1e6)
    return Cycles(rate, cpu / max(done, 1) * 1e6, worst * 1000, max(steps, default=0) * 1000)


async def listing(
    deps: Dependencies, n: int = 1000, rounds: int = 50
) -> tuple[float, float, float]:
    """/softphone's p50 and p99 in ms, and this process's CPU per listing in ms (on a loaded
    machine the wall times mostly measure waiting for a core)."""
    owner = TelegramUser(99, "Big")
    for i in range(n):
        await accounts.create_account(deps, owner, settings(100_000 + i))
    times = []
    cpu = time.process_time()
    for _ in range(rounds):
        t0 = time.perf_counter()
        view = await accounts.softphone(deps, owner)
        times.append((time.perf_counter() - t0) * 1000)
        assert len(view.owned) == n
    cpu = (time.process_time() - cpu) / rounds * 1000
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1], cpu


def reference(path: Path, impl: str, clients: int, seconds: float, env: dict[str, str]) -> Cycles:
    """One run of the reference program: its cycles/s and its worker's CPU per cycle."""
    cmd = [sys.executable, str(path), "--impl", impl, "--clients", str(clients)]
    cmd += ["--duration", str(seconds), "--warmup", "1"]
    if impl.startswith("sqlite"):
        cmd += ["--wal", "on"]
    out = subprocess.run(
        cmd, env=os.environ | env, capture_output=True, text=True, check=True, timeout=300
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    server = figures.get("pg_cpu_us_per_cycle")
    return Cycles(figures["cycles_per_s"], figures["py_cpu_us_per_cycle"], server_us=server)


@dataclass
class Backend:
    name: str
    url: str
    clients: int
    ref_impl: str
    ref_env: dict[str, str]


async def run_backend(b: Backend, args: argparse.Namespace) -> None:
    engine = create_engine(b.url)
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher("bench"))
    ours: list[Cycles] = []
    theirs: list[Cycles] = []
    try:
        await cycles(deps, b.clients, min(1.0, args.seconds))  # warm-up: connections, caches
        for r in range(args.rounds):
            ours.append(await cycles(deps, b.clients, args.seconds, first_id=(r + 1) * 100))
            if args.reference.exists():
                theirs.append(
                    reference(args.reference, b.ref_impl, b.clients, args.seconds, b.ref_env)
                )
        stall = await cycles(deps, b.clients, min(5.0, args.seconds), first_id=9_000, probe=True)
        p50, p99, list_cpu = await listing(deps)
    finally:
        await engine.dispose()
    rate = statistics.median(c.per_s for c in ours)
    cpu = statistics.median(c.cpu_us for c in ours)
    line = (
        f"{b.name:10} clients={b.clients:2}  cycles/s={rate:7.1f}  CPU/cycle={cpu:6.0f} µs  "
        f"longest loop stall={stall.stall_ms:.1f} ms"
        + (f" (one use case's CPU at most {stall.step_cpu_ms:.1f} ms)" if b.clients == 1 else "")
        + "  "
        f"/softphone 1000 accounts: p50={p50:.1f} ms p99={p99:.1f} ms CPU={list_cpu:.1f} ms"
    )
    if theirs:
        ref_rate = statistics.median(c.per_s for c in theirs)
        ref_cpu = statistics.median(c.cpu_us for c in theirs)
        line += (
            f"\n{'':10} reference {b.ref_impl}: cycles/s={ref_rate:7.1f}  "
            f"CPU/cycle={ref_cpu:6.0f} µs  ratio: cycles/s {rate / ref_rate:.2f}x, "
            f"CPU/cycle {cpu / ref_cpu:.2f}x"
        )
    if b.name == "postgresql":
        srv = statistics.median(c.server_us or 0 for c in ours)
        ref_srv = statistics.median(c.server_us or 0 for c in theirs) if theirs else 0
        line += f"\n{'':10} server CPU/cycle (every postgres process): ours {srv:.0f} µs" + (
            f", reference {ref_srv:.0f} µs, {srv / ref_srv:.2f}x" if ref_srv else ""
        )
    rounds = ", ".join(f"{c.per_s:.0f}" for c in ours)
    refs = ", ".join(f"{c.per_s:.0f}" for c in theirs) or "-"
    line += f"\n{'':10} rounds: ours {rounds}; reference {refs}  (load {os.getloadavg()[0]:.1f})"
    print(line, flush=True)


async def _create_database(admin_url: str, name: str, *, exist_ok: bool = False) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if exist_ok and await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ):
                return
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--reference", type=Path, default=REFERENCE.resolve())
    ap.add_argument("--standin", default="standin",
                    help="the reference program's own database (it drops and creates its "
                    "tables there)")  # fmt: skip
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    ap.add_argument("--gc", choices=("tuned", "requests", "default"), default="tuned",
                    help="tuned: eventloop.tune_gc(), as `telesip run` and `worker` run; "
                    "requests: as `bot` and `api` run it; default: CPython's")  # fmt: skip
    ap.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto",
                    help="the event loop: auto is the service's (uvloop when installed); "
                    "the reference program runs on asyncio's")  # fmt: skip
    return ap.parse_args()


async def main(args: argparse.Namespace) -> None:
    if args.gc == "tuned":
        eventloop.tune_gc()
    elif args.gc == "requests":
        eventloop.tune_gc(eventloop.GC_REQUEST_THRESHOLDS)
    loop = eventloop.loop_name(args.loop)
    print(f"loop {loop}; gc {args.gc} {gc.get_threshold()}; load {os.getloadavg()}", flush=True)
    if not args.reference.exists():
        print(f"reference program not found at {args.reference}: our figures only")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            ref_env = {"STANDIN_SQLITE": str(Path(tmp) / "standin.db")}
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}"
            await run_backend(Backend("sqlite", url, 1, "sqlite_core", ref_env), args)
    if args.only == "sqlite":
        return
    db = f"telesip_bench_{uuid.uuid4().hex[:8]}"
    try:
        await _create_database(args.pg, db)
        await _create_database(args.pg, args.standin, exist_ok=True)
    except Exception as exc:
        print(f"postgresql skipped: {exc}")
        return
    base = args.pg.rpartition("/")[0]
    standin = make_url(f"{base}/{args.standin}").set(drivername="postgresql")
    ref_env = {"ANCHOR_PG_DSN": standin.render_as_string(hide_password=False)}
    try:
        pg = Backend("postgresql", f"{base}/{db}", args.clients, "asyncpg", ref_env)
        await run_backend(pg, args)
    finally:
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{db}" WITH (FORCE)'))
        await admin.dispose()


if __name__ == "__main__":
    options = parse()
    eventloop.run(main(options), choice=options.loop)
