"""Import parsing cost: 10,000 accounts in each format (telesip's CSV, FreePBX's export,
pjsip.conf, sip.conf) generated in memory, then parse -> validate -> plan timed, with half of
them already existing (so the plan compares as well as classifies) and the peak memory the
three steps allocate (tracemalloc: Python objects only).

    .venv/bin/python bench/bench_import.py [--rows 10000] [--repeat 3] [--db sqlite,pg]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With ``--db`` (``sqlite``, ``pg`` or both) it also times the whole use case,
``services.imports.import_accounts``, on a fresh database of each kind: the CSV imported (all
new), imported again (all identical: nothing written) and with every tenth password changed,
each with the seconds it took and the process's peak RSS (each database runs in a child process
of its own, so the figure is that database's).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

from telesip.domain.settings import Secret
from telesip.importing import ExistingAccount, ImportPlan, parse, plan, validate

SERVER = "pbx.example.com"


def csv_file(rows: int) -> bytes:
    lines = ["login;password;server;port;transport;display_name"]
    lines += [f'{1000 + n};"p{n};x,y""z";{SERVER};5060;udp;Desk {n}' for n in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


def freepbx_file(rows: int) -> bytes:
    header = (
        "extension,password,name,voicemail,ringtimer,noanswer,recording,outboundcid,sipname,"
        "mohclass,id,tech,dial,devicetype,user,description,callerid,context,dtmfmode,host,"
        "mailbox,max_contacts,port,qualifyfreq,secret,sipdriver,transport,callwaiting_enable"
    )
    body = [
        f'{1000 + n},,"Desk {n}",default,0,,,,,default,{1000 + n},pjsip,PJSIP/{1000 + n},fixed,'
        f'{1000 + n},"Desk {n}","Desk {n} <{1000 + n}>",from-internal,rfc4733,dynamic,'
        f"{1000 + n}@device,1,5060,60,s3cret{n},chan_pjsip,0.0.0.0-udp,ENABLED"
        for n in range(rows)
    ]
    return ("\n".join([header, *body]) + "\n").encode()


def pjsip_file(rows: int) -> bytes:
    parts = [
        "[transport-udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0:5060\n",
        "[ep](!)\ntype=endpoint\ncontext=from-internal\ndisallow=all\nallow=alaw\n",
        "[au](!)\ntype=auth\nauth_type=userpass\n",
        "[ao](!)\ntype=aor\nmax_contacts=1\n",
    ]
    for n in range(rows):
        ext = 1000 + n
        parts.append(
            f'[{ext}](ep)\nauth={ext}\naors={ext}\ncallerid="Desk {n}" <{ext}>\n'
            f"[{ext}](au)\nusername={ext}\npassword=s3cret{n}\n[{ext}](ao)\n"
        )
    return "\n".join(parts).encode()


def sip_file(rows: int) -> bytes:
    parts = ["[general]\nbindport=5060\n", "[phone](!)\ntype=friend\nhost=dynamic\n"]
    parts += [f"[{1000 + n}](phone)\nsecret=s3cret{n}\ncallerid=Desk {n}\n" for n in range(rows)]
    return "\n".join(parts).encode()


def fingerprint(password: Secret) -> str:
    return hashlib.blake2b(password.reveal().encode(), digest_size=16).hexdigest()


def run(data: bytes, existing: list[ExistingAccount]) -> ImportPlan:
    parsed = parse(io.BytesIO(data), server_given=True)
    return plan(validate(parsed, server=SERVER), existing, fingerprint)


def existing_half(data: bytes) -> list[ExistingAccount]:
    """Half of the file's accounts as if imported before, every tenth with another password."""
    first = run(data, [])
    out = []
    for n, row in enumerate(p.row for p in first.new if p.row is not None):
        if n % 2:
            continue
        settings = row.settings
        password = Secret("old") if n % 10 == 0 else settings.password
        out.append(
            ExistingAccount(n, settings.identity, fingerprint(password), settings.public_dict())
        )
    return out


def measure(name: str, make: Callable[[int], bytes], rows: int, repeat: int) -> None:
    data = make(rows)
    existing = existing_half(data)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run(data, existing)
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    run(data, existing)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c = result.counts
    assert c.errors == 0 and c.new + c.changed + c.identical == rows, (name, c)
    best, median = min(times), statistics.median(times)
    print(
        f"{name:<9} {rows} rows, {len(data) / 1e6:5.2f} MB: best {best * 1000:7.1f} ms "
        f"(median {median * 1000:7.1f} ms, {rows / best:8.0f} rows/s), "
        f"peak {peak / 1e6:5.1f} MB; {c.new} new, {c.changed} changed, {c.identical} identical"
    )


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def _use_case(url: str, rows: int) -> None:
    """The import use case on the database at ``url`` (migrated here), as one owner."""
    from telesip.domain.model import TelegramUser
    from telesip.services import imports
    from telesip.services.dependencies import Dependencies
    from telesip.store import migrate
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine(url)
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher("bench-import-key"))
    owner = TelegramUser(1001, "Bench")
    data = csv_file(rows)
    changed = data.replace(b'"p1', b'"q1')  # every tenth-ish password (those starting with 1)
    try:
        for label, content in (("first", data), ("again", data), ("changed", changed)):
            start = time.perf_counter()
            outcome = await imports.import_accounts(deps, owner, io.BytesIO(content))
            took = time.perf_counter() - start
            c = outcome.plan.counts
            print(
                f"  {label:<8} {took:6.2f} s: {c.new} new, {c.changed} changed, "
                f"{c.identical} identical; peak RSS {peak_rss_mb():6.1f} MB",
                flush=True,
            )
    finally:
        await engine.dispose()


async def _pg_database(admin_url: str, name: str, *, drop: bool = False) -> None:
    from sqlalchemy import text

    from telesip.store.db import create_engine

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            if drop:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            else:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


def db_child(backend: str, rows: int, pg: str) -> None:
    """One database's run (in a process of its own: the peak RSS is its own)."""
    print(f"{backend}: import use case, {rows} rows (telesip's CSV)", flush=True)
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(_use_case(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", rows))
        return
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_database(pg, name))
    try:
        asyncio.run(_use_case(f"{pg.rpartition('/')[0]}/{name}", rows))
    finally:
        asyncio.run(_pg_database(pg, name, drop=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="", help="sqlite, pg or sqlite,pg: the use case too")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--db-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.db_child:
        db_child(args.db_child, args.rows, args.pg)
        return
    for name, make in (
        ("csv", csv_file),
        ("freepbx", freepbx_file),
        ("pjsip", pjsip_file),
        ("sip.conf", sip_file),
    ):
        measure(name, make, args.rows, args.repeat)
    for backend in filter(None, args.db.split(",")):
        command = [sys.executable, __file__, "--db-child", backend, "--rows", str(args.rows)]
        subprocess.run([*command, "--pg", args.pg], check=True)


if __name__ == "__main__":
    main()
