"""Handing out an office in bulk: settings links for N accounts (one unit of work,
``services.bulk.create_links``), then their CSV and the printable sheet (PDF, and PNG pages),
on SQLite and PostgreSQL. CPU seconds (process time: the machine is shared) and wall seconds
per step, the median of ``--repeat`` runs, with a reference: the same N links made one by one
through ``links.create_link`` (N units of work), measured in the same run.

    .venv/bin/python bench/bench_bulk.py [--accounts 200] [--repeat 3] [--db sqlite,pg]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from telesip.domain.model import TelegramUser
from telesip.domain.settings import AccountSettings, Secret
from telesip.printing import Card, links_csv, pdf, png_pages
from telesip.services import accounts, bulk, links
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine

OWNER = TelegramUser(4242, "Office", "office")


async def _timed(step: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = await step()
    return time.process_time() - cpu, time.perf_counter() - wall, result


async def _deps(
    kind: str, pg_url: str, tmp: Path
) -> tuple[Dependencies, Callable[[], Awaitable[None]]]:
    if kind == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp / f'{uuid.uuid4().hex}.db'}")
        await migrate.upgrade(engine)

        async def drop() -> None:
            await engine.dispose()

        return Dependencies(engine, Cipher("bench-key-material-bench-key")), drop
    name = f"telesip_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(pg_url.rsplit("/", 1)[0] + "/" + name)
    await migrate.upgrade(engine)

    async def drop_pg() -> None:
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}"'))
        await admin.dispose()

    return Dependencies(engine, Cipher("bench-key-material-bench-key")), drop_pg


async def one_run(kind: str, n: int, pg_url: str, tmp: Path) -> dict[str, tuple[float, float]]:
    deps, drop = await _deps(kind, pg_url, tmp)
    try:
        ids = [
            await accounts.create_account(
                deps,
                OWNER,
                AccountSettings(
                    login=f"{2000 + i}",
                    password=Secret(f"pw-{i}"),
                    domain="pbx.example.com",
                    display_name=f"Desk {i}",
                ),
            )
            for i in range(n)
        ]
        out: dict[str, tuple[float, float]] = {}

        async def one_by_one() -> None:
            for i in ids:
                await links.create_link(deps, OWNER, i)

        cpu, wall, _ = await _timed(one_by_one)
        out["reference: N x links.create_link"] = (cpu, wall)
        cpu, wall, made = await _timed(lambda: bulk.create_links(deps, OWNER, OWNER.id, ids))
        out["bulk.create_links (one unit of work)"] = (cpu, wall)
        cards = [Card.of(m, f"https://t.me/office_bot?start={m.token}") for m in made]

        async def sync(fn: Callable[[], Any]) -> Any:
            return fn()

        cpu, wall, data = await _timed(lambda: sync(lambda: links_csv(cards)))
        out[f"links CSV ({len(data) // 1024} KiB)"] = (cpu, wall)
        cpu, wall, data = await _timed(lambda: sync(lambda: pdf(cards, "ru")))
        out[f"sheet PDF ({len(data) // 1024} KiB, {-(-n // 8)} pages)"] = (cpu, wall)
        cpu, wall, pages = await _timed(lambda: sync(lambda: png_pages(cards, "ru")))
        size = sum(len(p) for p in pages) // 1024
        out[f"sheet PNG pages ({size} KiB)"] = (cpu, wall)
        return out
    finally:
        await drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default="sqlite,pg")
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.db.split(","):
            runs = [
                asyncio.run(one_run(kind, args.accounts, args.pg, Path(tmp)))
                for _ in range(args.repeat)
            ]
            print(f"\n{kind}: {args.accounts} accounts, median of {args.repeat}")
            for step in runs[0]:
                key = step.split(" (")[0]
                found = [v for r in runs for k, v in r.items() if k.split(" (")[0] == key]
                cpu = statistics.median(c for c, _ in found)
                wall = statistics.median(w for _, w in found)
                print(f"  {step:<52} CPU {cpu * 1000:8.1f} ms   wall {wall * 1000:8.1f} ms")
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
