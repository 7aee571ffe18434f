"""Chaos benchmark (issue 18): three `telesip worker` processes keep N accounts registered at one
Kamailio on the local PostgreSQL while a fault chosen at random hits every INTERVAL seconds.

    .venv/bin/python bench/bench_chaos.py [-n 10000] [--minutes 30] [--interval 120] [--ttl 10]

Faults: pause a worker (SIGSTOP for 2 TTLs, SIGCONT), rolling restart of a worker (SIGTERM,
start again), kill -9 of a worker (then start again), the database cut for 30 s (the workers
reach it through a proxy that closes every connection, as a restart does), the registrar not
answering for 10 s (Kamailio SIGSTOP/SIGCONT). Kamailio's location table is read every second
(JSON-RPC ``ul.dump``): the registrar's view.

Prints, over the whole run after the first full registration: registered availability (the
fraction of account-seconds with a live contact at the registrar), the longest gap of any
account outside the registrar's own outage, doubles (account-seconds with contacts of two live
workers), and each fault with its time. The bot and the API are not part of this run: lost
operations are not measured here (the fault suite's bot test covers the database outage).
Needs kamailio (bin/system-deps) and PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
import bench_register
from bench_fleet import PG, provision, scalar, start_worker
from tests.faults.proxy import Proxy

from telesip.store import tables
from telesip.store.db import create_engine

JSONRPC = (
    'loadmodule "jsonrpcs.so"\n'
    'modparam("jsonrpcs", "transport", 2)\n'
    'modparam("jsonrpcs", "fifo_name", "{dir}/rpc.fifo")\n'
    'modparam("jsonrpcs", "fifo_reply_dir", "{dir}/")\n'
)


def dump(directory: Path) -> dict[str, set[int]]:
    """AoR -> the ports of its live contacts, from Kamailio's ``ul.dump`` over the FIFO."""
    reply = directory / f"chaos{os.getpid()}"
    if not reply.exists():
        os.mkfifo(reply)
    request = {"jsonrpc": "2.0", "method": "ul.dump", "reply_name": reply.name, "id": 1}
    with open(directory / "rpc.fifo", "w") as fifo:
        fifo.write(json.dumps(request))
    with open(reply) as answer:
        result = json.loads(answer.read())["result"]
    out: dict[str, set[int]] = {}
    for domain in result["Domains"]:
        for aor in domain["Domain"]["AoRs"] or []:
            info = aor["Info"]
            ports = {
                int(str(c["Contact"]["Address"]).split(";")[0].rstrip(">").rsplit(":", 1)[1])
                for c in info["Contacts"]
                if c["Contact"]["Expires"] != "expired"
            }
            if ports:
                out[info["AoR"]] = ports
    return out


@dataclass
class Tally:
    logins: list[str]
    samples: int = 0
    up: int = 0  # account-samples with a contact
    doubles: int = 0  # account-samples with two live workers' contacts
    gap_since: dict[str, float] = field(default_factory=dict)
    longest_gap: float = 0.0
    longest_login: str = ""

    def add(self, at: float, bindings: dict[str, set[int]], live: set[int], excused: bool) -> None:
        self.samples += 1
        for login in self.logins:
            ports = bindings.get(login, set())
            if ports:
                self.up += 1
                began = self.gap_since.pop(login, None)
                if began is not None and at - began > self.longest_gap:
                    self.longest_gap, self.longest_login = at - began, login
            elif not excused:
                self.gap_since.setdefault(login, at)
            else:  # the registrar's own outage: its gap is not ours
                self.gap_since.pop(login, None)
            if len(ports & live) > 1:
                self.doubles += 1


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--interval", type=float, default=120)
    ap.add_argument("--ttl", type=int, default=10)
    ap.add_argument("--expires", type=int, default=120)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    db = f"telesip_chaos_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/test", isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{db}"'))
    url = f"{PG}/{db}"
    proxy = Proxy(("127.0.0.1", 5432))
    await proxy.start()
    via = proxy.url(url)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logins = [f"b{i}" for i in range(args.n)]
    original = bench_register.KAMAILIO_CFG
    try:
        with tempfile.TemporaryDirectory() as tmp_s:
            tmp = Path(tmp_s)
            bench_register.KAMAILIO_CFG = original.replace(
                'loadmodule "auth.so"\n',
                'loadmodule "auth.so"\n'
                + JSONRPC.format(dir=tmp).replace("{", "{{").replace("}", "}}"),
            )
            with bench_register.kamailio(tmp, children=4) as (port, _rpc):
                kam_pid = await asyncio.to_thread(oldest, str(tmp / "kamailio.cfg"))
                await provision(url, args.n, int(port), args.expires)
                for name in ("w1", "w2", "w3"):
                    procs[name] = start_worker(name, via, args.ttl, tmp)
                registered = select(func.count()).where(tables.accounts.c.reg_state == "registered")
                began = time.monotonic()
                while await scalar(url, registered) < args.n:
                    if time.monotonic() - began > 900:
                        raise SystemExit("not all registered after 900 s")
                    await asyncio.sleep(1)
                print(f"all {args.n} registered in {time.monotonic() - began:.0f} s", flush=True)
                rig = Rig(args, rng, tmp, url, via, procs, kam_pid, proxy)
                await run_chaos(rig, logins)
    finally:
        bench_register.KAMAILIO_CFG = original
        proxy.restore()  # the workers hand their leases back through it
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                await asyncio.to_thread(proc.wait, 60)  # the proxy runs in this loop
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        await proxy.close()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        await admin.dispose()


async def worker_ports(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(tables.workers.c.name, tables.workers.c.addresses))
            return {r.name: int(r.addresses[0].rsplit(":", 1)[1]) for r in rows if r.addresses}
    finally:
        await engine.dispose()


@dataclass
class Rig:
    args: argparse.Namespace
    rng: random.Random
    tmp: Path
    url: str
    via: str  # the database URL through the proxy (what the workers use)
    procs: dict[str, subprocess.Popen[bytes]]
    kam_pid: int
    proxy: Proxy
    paused: set[str] = field(default_factory=set)
    registrar_down: bool = False
    dumping: asyncio.Future[dict[str, set[int]]] | None = None  # the FIFO read in flight


async def run_chaos(rig: Rig, logins: list[str]) -> None:
    args, rng, tmp, url, via, procs, kam_pid = (
        rig.args, rig.rng, rig.tmp, rig.url, rig.via, rig.procs, rig.kam_pid
    )  # fmt: skip
    tally = Tally(logins)
    end = time.monotonic() + args.minutes * 60
    faults: list[str] = []

    async def sample() -> None:
        while True:
            at = time.monotonic()
            ports = await worker_ports(url)
            live = {
                ports[n]
                for n, p in procs.items()
                if p.poll() is None and n not in rig.paused and n in ports
            }
            if rig.dumping is None or rig.dumping.done():
                rig.dumping = asyncio.ensure_future(asyncio.to_thread(dump, tmp))
            try:
                bindings = await asyncio.wait_for(asyncio.shield(rig.dumping), 5)
            except TimeoutError:  # Kamailio stopped: its FIFO answers when it resumes
                bindings = None
            if bindings is not None:
                tally.add(at, bindings, live, rig.registrar_down)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - at)))

    async def pause() -> str:
        name = rng.choice(sorted(procs))
        os.killpg(procs[name].pid, signal.SIGSTOP)
        rig.paused.add(name)
        await asyncio.sleep(2 * args.ttl)
        os.killpg(procs[name].pid, signal.SIGCONT)
        rig.paused.discard(name)
        return f"pause {name} {2 * args.ttl} s"

    async def restart(sig: int, label: str) -> str:
        name = rng.choice(sorted(procs))
        proc = procs[name]
        os.killpg(proc.pid, sig)
        await asyncio.to_thread(proc.wait, 120)
        procs[name] = start_worker(name, via, args.ttl, tmp)
        return f"{label} {name}"

    async def database() -> str:
        rig.proxy.cut()
        await asyncio.sleep(30)
        rig.proxy.restore()
        return "database cut 30 s"

    async def registrar() -> str:
        rig.registrar_down = True
        family = [kam_pid, *await asyncio.to_thread(children, kam_pid)]
        for pid in family:
            os.kill(pid, signal.SIGSTOP)
        await asyncio.sleep(10)
        for pid in family:
            os.kill(pid, signal.SIGCONT)
        await asyncio.sleep(2 * args.ttl)  # the registrations come back (paced)
        rig.registrar_down = False
        return "registrar silent 10 s"

    choices: list[Callable[[], object]] = [
        pause,
        lambda: restart(signal.SIGTERM, "rolling restart"),
        lambda: restart(signal.SIGKILL, "kill -9 + start"),
        database,
        registrar,
    ]
    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    try:
        while time.monotonic() + args.interval <= end:
            await asyncio.sleep(args.interval / 2)
            fault = rng.choice(choices)
            at = time.monotonic() - started
            what = await fault()  # type: ignore[misc]
            faults.append(f"{at:5.0f} s: {what}")
            print(f"  {faults[-1]}", flush=True)
            await asyncio.sleep(args.interval / 2)
    finally:
        sampler.cancel()
        if rig.dumping is not None:  # its thread reads Kamailio's FIFO: let it finish first
            await asyncio.wait_for(rig.dumping, 30)
    n = tally.samples * len(logins)
    print(f"{args.n} accounts, 3 workers, {args.minutes:g} min, a fault every {args.interval:g} s")
    print(f"registered availability: {100 * tally.up / max(1, n):.3f} % of account-seconds")
    print(
        f"longest gap outside the registrar's outage: {tally.longest_gap:.1f} s "
        f"({tally.longest_login or '-'}), sampled every 1 s"
    )
    print(f"doubles: {tally.doubles} account-seconds with two live workers' contacts")


def oldest(pattern: str) -> int:
    """The first process started whose command line has ``pattern`` (Kamailio's main one)."""
    out = subprocess.run(["pgrep", "-o", "-f", pattern], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


if __name__ == "__main__":
    asyncio.run(main())
