"""The Mini App's account table for 1,000 accounts: server time and first paint.

One owner with 1,000 accounts on a fresh SQLite database (or ``--database URL``). Prints, for
``GET /miniapp/table`` (a page of 100: default order, sorted by state, and a search), p50/p95 of
the server's own time (its ``Server-Timing`` header: initData check, the /softphone read, sort,
HTML) and of the round trip, against ``telesip api`` in its own process; then the page in
headless Chromium (Debian's ``chromium`` through Playwright): first contentful paint and the
time until the table's rows are there, for the first load of a fresh browser and p50 of the
next loads (each a new page). Targets (issue 19): server time <= 50 ms, first paint <= 1 s.

    .venv/bin/python bench/bench_miniapp.py [--accounts 1000] [--requests 200] [--loads 6]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx

if TYPE_CHECKING:
    from telesip.domain.model import TelegramUser
    from telesip.services.dependencies import Dependencies

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fill(url: str, n: int) -> tuple[Dependencies, TelegramUser]:
    from telesip.domain.clock import SystemClock
    from telesip.domain.model import TelegramUser
    from telesip.domain.settings import AccountSettings, Secret
    from telesip.services import accounts
    from telesip.services.dependencies import Dependencies
    from telesip.store import migrate
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    engine = create_engine(url)
    await migrate.upgrade(engine)
    deps = Dependencies(engine, Cipher("bench-secret-key-material"), SystemClock())
    owner = TelegramUser(5001, "Bench", "bench", "en")
    for i in range(n):
        settings = AccountSettings(
            login=f"{1000 + i}", password=Secret("pw"), domain=f"pbx{i % 7}.example.com"
        )
        account_id = await accounts.create_account(deps, owner, settings)
        if i % 10 == 3:
            await accounts.report_registration(deps, account_id, "auth_failed", 403, "Forbidden")
    return deps, owner


async def server_times(
    base: str, headers: dict[str, str], params: dict[str, str], n: int
) -> tuple[list[float], list[float]]:
    server, trip = [], []
    async with httpx.AsyncClient(base_url=base, headers=headers) as client:
        for _ in range(n):
            started = time.perf_counter()
            r = await client.get("/miniapp/table", params=params)
            trip.append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            match = re.search(r"dur=([\d.]+)", r.headers["server-timing"])
            assert match is not None
            server.append(float(match.group(1)))
    return server, trip


async def first_paint(base: str, data: str, loads: int) -> tuple[list[float], list[float]] | None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("first paint: skipped (no chromium; bin/system-deps installs it)")
        return None
    from playwright.async_api import async_playwright

    theme = quote(json.dumps({"bg_color": "#ffffff", "text_color": "#000000"}))
    url = f"{base}/miniapp/#tgWebAppData={quote(data)}&tgWebAppThemeParams={theme}"
    fcp, table = [], []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        context = await browser.new_context(viewport={"width": 390, "height": 844})
        await context.route("https://telegram.org/**", lambda route: route.abort())
        for _ in range(loads):
            page = await context.new_page()
            await page.goto(url)
            await page.locator("tbody tr[data-id]").first.wait_for()
            shown = await page.evaluate("performance.now()")
            paint = await page.evaluate(
                "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
            )
            fcp.append(float(paint))
            table.append(float(shown))
            await page.close()
        await browser.close()
    return fcp, table


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def main(args: argparse.Namespace) -> None:
    from tests.miniapp.signing import TOKEN, auth, init_data

    from telesip.domain.clock import SystemClock

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        started = time.perf_counter()
        s, owner = await fill(url, args.accounts)
        await s.engine.dispose()
        print(f"{args.accounts} accounts made in {time.perf_counter() - started:.1f} s")
        port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "TELESIP_DATABASE_URL": url,
            "TELESIP_DATA_DIR": tmp,
            "TELESIP_SECRET_KEY": "bench-secret-key-material",
            "TELESIP_API_BIND": f"127.0.0.1:{port}",
            "TELESIP_BOT_TOKEN": TOKEN,
            "TELESIP_BOT_API_URL": "http://127.0.0.1:9",  # getMe is refused at once: no network
            "TELESIP_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measuring
            [sys.executable, "-m", "telesip.cli", "api"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                for _ in range(600):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get("/livez")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            now = SystemClock().now()
            headers = auth(owner, now)
            cases: dict[str, dict[str, str]] = {
                "page 1, by id": {},
                "page 1, by state": {"sort": "state", "dir": "desc"},
                "search 'pbx3'": {"q": "pbx3"},
            }
            for name, params in cases.items():
                await server_times(base, headers, params, 5)  # warm up
                server_ms, trip = await server_times(base, headers, params, args.requests)
                print(
                    f"GET /miniapp/table {name:18} server p50 {statistics.median(server_ms):5.1f}"
                    f" ms  p95 {pct(server_ms, 0.95):5.1f} ms   round trip p50 "
                    f"{statistics.median(trip):5.1f} ms  p95 {pct(trip, 0.95):5.1f} ms"
                )
            found = await first_paint(base, init_data(owner, now), args.loads)
            if found is not None:
                fcp, shown = found
                print(
                    f"Chromium 390x844, first load in a fresh browser: first contentful paint "
                    f"{fcp[0]:.0f} ms, rows shown {shown[0]:.0f} ms"
                )
                print(
                    f"Chromium 390x844, {len(fcp) - 1} more loads: first contentful paint p50 "
                    f"{statistics.median(fcp[1:]):.0f} ms (max {max(fcp[1:]):.0f}); rows shown "
                    f"p50 {statistics.median(shown[1:]):.0f} ms (max {max(shown[1:]):.0f})"
                )
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--loads", type=int, default=6, help="the first is a cold start")
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    asyncio.run(main(parser.parse_args()))
