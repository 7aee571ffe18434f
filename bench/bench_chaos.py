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
workers, and the longest run of one; those in runs of at most HANDOVER samples, a hand-over's
overlap, apart from the ones in longer runs, real doubles), and each fault with its time and the
load average.

Lost operations (the API): a `telesip api` process on the same database (through the same
proxy) gets one operation at a time, about two a second, from a client that acts as an
integration would: `PATCH /api/v1/accounts/{id}/settings` setting `display_name` to the
operation's number on one of 20 disabled accounts (outside the registered population), each
retried on 503 or a broken connection until it is answered 200 (giving up after 120 s). One
more fault joins the draw: kill -9 of the API process, started again. At the end an operation
is lost if it was given up, or if an account's stored `display_name` is not the last one
answered 200 for it.

Lost operations (the bot): a `telesip bot` process (long polling, on the same database through
the proxy) talks to a fake Bot API in this process; five people take turns sending `/softphone`,
one at a time, about two a second. An operation is answered when the bot's reply comes; a
"try again in a moment" reply (the database away) is sent again a second later; an update that
gets no reply at all within 60 s is counted as lost by the bot and sent again. One more fault
joins the draw: kill -9 of the bot process, started again.
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
import httpx
from bench_fleet import KEY, PG, provision, scalar, start_worker
from tests.fakes import FakeBotAPI, FakeUser
from tests.faults.proxy import Proxy

from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import accounts, billing, operators
from telesip.services.dependencies import Dependencies
from telesip.services.operators import Scope
from telesip.store import tables
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

SPARE = 20  # disabled accounts the API operations change
HANDOVER = 2  # samples (1 s apart): a double run this short is a hand-over's overlap

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
    double_since: dict[str, float] = field(default_factory=dict)
    double_run: dict[str, int] = field(default_factory=dict)  # samples in the current run
    longest_double: float = 0.0  # the longest run of samples with two live workers' contacts
    handover_doubles: int = 0  # account-samples in runs of at most HANDOVER samples
    real_doubles: int = 0  # account-samples in longer runs
    real_runs: int = 0

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
                since = self.double_since.setdefault(login, at)
                self.double_run[login] = self.double_run.get(login, 0) + 1
                self.longest_double = max(self.longest_double, at - since)
            else:
                self.double_since.pop(login, None)
                self._end_double(login)

    def _end_double(self, login: str) -> None:
        """A run of doubles ended: a hand-over's overlap (at most HANDOVER samples: the
        taker's report on its way through the database) or a real double."""
        run = self.double_run.pop(login, 0)
        if run > HANDOVER:
            self.real_doubles += run
            self.real_runs += 1
        else:
            self.handover_doubles += run

    def finish(self) -> None:
        for login in list(self.double_run):
            self._end_double(login)


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
                spare, token = await spare_accounts(url)
                for name in ("w1", "w2", "w3"):
                    procs[name] = start_worker(name, via, args.ttl, tmp)
                api_port = free_port()
                procs["api"] = start_api(via, tmp, api_port)
                fake = await FakeBotAPI(bot_username="chaos_bot").start()
                people = [FakeUser(20_000 + i, f"P{i}") for i in range(5)]
                for person in people:
                    fake.start_chat(person)
                procs["bot"] = start_bot(via, tmp, fake)
                registered = select(func.count()).where(tables.accounts.c.reg_state == "registered")
                began = time.monotonic()
                while await scalar(url, registered) < args.n:
                    if time.monotonic() - began > 900:
                        raise SystemExit("not all registered after 900 s")
                    await asyncio.sleep(1)
                print(f"all {args.n} registered in {time.monotonic() - began:.0f} s", flush=True)
                rig = Rig(args, rng, tmp, url, via, procs, kam_pid, proxy)
                client = ApiClient(f"http://127.0.0.1:{api_port}", token, spare)
                talker = BotClient(fake, people)
                try:
                    await run_chaos(rig, logins, client, talker)
                finally:
                    if procs["bot"].poll() is None:
                        os.killpg(procs["bot"].pid, signal.SIGTERM)
                        await asyncio.to_thread(procs["bot"].wait, 60)
                    await fake.stop()
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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def spare_accounts(url: str) -> tuple[list[int], str]:
    """SPARE disabled accounts of another owner for the API's operations, and an API key."""
    deps = Dependencies(create_engine(url), Cipher(KEY))
    try:
        owner = TelegramUser(2, "api")
        await billing.set_subscription(deps, owner, "office", -1)  # seats for all of them
        ids = []
        for i in range(SPARE):
            settings = AccountSettings(
                login=f"spare{i}", password=Secret("pw"), domain="127.0.0.1", port=9
            )
            ids.append(await accounts.create_account(deps, owner, settings))
            await accounts.set_enabled(deps, None, ids[-1], False)
        key = await operators.create_api_key(deps, "chaos", Scope(all=True))
        return ids, key.token
    finally:
        await deps.engine.dispose()


def start_api(url: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TELESIP_DATABASE_URL": url,
        "TELESIP_SECRET_KEY": KEY,
        "TELESIP_API_BIND": f"127.0.0.1:{port}",
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "telesip.cli", "api"],
        env=env,
        stdout=(tmp / "api.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_bot(url: str, tmp: Path, fake: FakeBotAPI) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TELESIP_DATABASE_URL": url,
        "TELESIP_SECRET_KEY": KEY,
        "TELESIP_BOT_TOKEN": fake.token,
        "TELESIP_BOT_API_URL": fake.base_url,
        "TELESIP_DATA_DIR": str(tmp),
        "TELESIP_METRICS_BIND": "",
        "TELESIP_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "telesip.cli", "bot"],
        env=env,
        stdout=(tmp / "bot.log").open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@dataclass
class BotClient:
    """People sending ``/softphone`` one at a time (see the module docstring)."""

    fake: FakeBotAPI
    people: list[FakeUser]
    answered: int = 0
    try_again: int = 0  # "try again in a moment" replies (sent again)
    silent: int = 0  # updates that got no reply within 60 s: lost by the bot (sent again)
    given_up: int = 0
    longest: float = 0.0

    async def run(self) -> None:
        n = 0
        while True:
            n += 1
            person = self.people[n % len(self.people)]
            began = time.monotonic()
            while True:
                before = len(self.fake.bot_messages(person))
                self.fake.send_text(person, "/softphone")
                try:
                    await self.fake.wait_for(
                        lambda p=person, b=before: len(self.fake.bot_messages(p)) > b,  # type: ignore[misc]
                        timeout=60,
                    )
                except TimeoutError:
                    self.silent += 1
                    if time.monotonic() - began > 180:
                        self.given_up += 1
                        break
                    continue
                if "try again" in self.fake.bot_messages(person)[-1].content:
                    self.try_again += 1
                    await asyncio.sleep(1)
                    continue
                self.answered += 1
                self.longest = max(self.longest, time.monotonic() - began)
                break
            await asyncio.sleep(0.5)


@dataclass
class ApiClient:
    """One operation at a time, as an integration would send them (see the module docstring)."""

    base: str
    token: str
    accounts: list[int]
    done: int = 0
    given_up: int = 0
    unavailable: int = 0  # 503 answers (retried)
    broken: int = 0  # connections refused or cut (retried)
    longest: float = 0.0  # the longest an operation took until answered 200
    last: dict[int, str] = field(default_factory=dict)  # account -> last value answered 200
    sent: tuple[int, str] | None = None  # the operation out when the run ended (unanswered)

    async def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.base, headers=headers, timeout=10) as http:
            n = 0
            while True:
                n += 1
                account = self.accounts[n % len(self.accounts)]
                value = f"op{n}"
                began = time.monotonic()
                self.sent = (account, value)
                while True:
                    try:
                        r = await http.patch(
                            f"/api/v1/accounts/{account}/settings", json={"display_name": value}
                        )
                    except httpx.TransportError:
                        self.broken += 1
                        r = None
                    if r is not None and r.status_code == 200:
                        self.sent = None
                        self.done += 1
                        self.last[account] = value
                        self.longest = max(self.longest, time.monotonic() - began)
                        break
                    if r is not None and r.status_code != 503:
                        raise SystemExit(f"API answered {r.status_code}: {r.text[:300]}")
                    if r is not None:
                        self.unavailable += 1
                    if time.monotonic() - began > 120:
                        self.given_up += 1
                        break
                    await asyncio.sleep(0.5)
                await asyncio.sleep(0.5)

    async def lost(self, url: str) -> int:
        """Operations answered 200 whose value the account does not hold, and those given up."""
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    select(tables.accounts.c.id, tables.accounts.c.display_name).where(
                        tables.accounts.c.id.in_(self.accounts)
                    )
                )
                stored = {r.id: r.display_name for r in rows}
        finally:
            await engine.dispose()
        # the run ends by cancelling the client: its last operation may be stored unanswered
        wrong = sum(
            1
            for a, v in self.last.items()
            if stored.get(a) != v and self.sent != (a, stored.get(a))
        )
        return wrong + self.given_up


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


async def run_chaos(rig: Rig, logins: list[str], client: ApiClient, talker: BotClient) -> None:
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

    workers = ("w1", "w2", "w3")

    async def pause() -> str:
        name = rng.choice(workers)
        os.killpg(procs[name].pid, signal.SIGSTOP)
        rig.paused.add(name)
        await asyncio.sleep(2 * args.ttl)
        os.killpg(procs[name].pid, signal.SIGCONT)
        rig.paused.discard(name)
        return f"pause {name} {2 * args.ttl} s"

    async def restart(sig: int, label: str) -> str:
        name = rng.choice(workers)
        proc = procs[name]
        os.killpg(proc.pid, sig)
        await asyncio.to_thread(proc.wait, 120)
        procs[name] = start_worker(name, via, args.ttl, tmp)
        return f"{label} {name}"

    async def kill_api() -> str:
        proc = procs["api"]
        os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 120)
        procs["api"] = start_api(via, tmp, int(client.base.rsplit(":", 1)[1]))
        return "kill -9 api + start"

    async def kill_bot() -> str:
        proc = procs["bot"]
        os.killpg(proc.pid, signal.SIGKILL)
        await asyncio.to_thread(proc.wait, 120)
        procs["bot"] = start_bot(via, tmp, talker.fake)
        return "kill -9 bot + start"

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
        kill_api,
        kill_bot,
    ]
    sampler = asyncio.create_task(sample())
    driver = asyncio.create_task(client.run())
    speaker = asyncio.create_task(talker.run())
    started = time.monotonic()
    try:
        while time.monotonic() + args.interval <= end:
            await asyncio.sleep(args.interval / 2)
            fault = rng.choice(choices)
            at = time.monotonic() - started
            what = await fault()  # type: ignore[misc]
            load = " ".join(f"{x:.1f}" for x in os.getloadavg())
            faults.append(f"{at:5.0f} s: {what} (load {load})")
            print(f"  {faults[-1]}", flush=True)
            await asyncio.sleep(args.interval / 2)
    finally:
        sampler.cancel()
        driver.cancel()
        speaker.cancel()
        if rig.dumping is not None:  # its thread reads Kamailio's FIFO: let it finish first
            await asyncio.wait_for(rig.dumping, 30)
    n = tally.samples * len(logins)
    print(f"{args.n} accounts, 3 workers, {args.minutes:g} min, a fault every {args.interval:g} s")
    print(f"registered availability: {100 * tally.up / max(1, n):.3f} % of account-seconds")
    print(
        f"longest gap outside the registrar's outage: {tally.longest_gap:.1f} s "
        f"({tally.longest_login or '-'}), sampled every 1 s"
    )
    tally.finish()
    print(
        f"doubles: {tally.doubles} account-seconds with two live workers' contacts, the longest "
        f"run {tally.longest_double:.0f} s; in hand-overs (runs of <= {HANDOVER} samples) "
        f"{tally.handover_doubles}, in longer runs {tally.real_doubles} ({tally.real_runs} runs)"
    )
    lost = await client.lost(url)
    print(
        f"API operations: {client.done} answered 200, {lost} lost ({client.given_up} given up), "
        f"{client.unavailable} answers 503 and {client.broken} broken connections retried, "
        f"longest until answered {client.longest:.1f} s"
    )
    print(
        f"bot operations: {talker.answered} answered, {talker.silent} updates lost (no reply in "
        f"60 s; sent again), {talker.given_up} given up, {talker.try_again} 'try again' replies "
        f"retried, longest until answered {talker.longest:.1f} s"
    )


def oldest(pattern: str) -> int:
    """The first process started whose command line has ``pattern`` (Kamailio's main one)."""
    out = subprocess.run(["pgrep", "-o", "-f", pattern], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


if __name__ == "__main__":
    asyncio.run(main())
