"""Benchmark: button presses (callback updates) handled per second by one bot process, end to end.

The fake Bot API (tests/fakes/botapi.py) runs in a child process on loopback; this process runs
the real bot (``build_dispatcher``) on SQLite or PostgreSQL. Each simulated person has a card
message with two of their accounts; a press opens the other account's card: the bot reads the
card from the database (get_card), answers the callback and edits the message (a 3-row keyboard).

Open loop: the child injects presses at ``--rate`` per second for ``--seconds`` (rate 0: all at
once, to find the ceiling) and measures press -> answerCallbackQuery; this process measures the
handler time of each update (middleware to middleware). The limiter runs with its overall rate
raised (Telegram's 30 messages/s would otherwise be the figure); per chat it stays at 1/s with a
burst of 3, so the load is spread over enough people to stay under it.

With ``--mode multi`` each press is /links → New link → an account: the bot creates a link
(a database write), edits the pressed message (the links list), sends the link and then its QR
code (sendPhoto): one edit and two new messages. The figure is press -> the QR code delivered
(the last of the three), with the limiter's real per-chat pacing (burst 6, then 1/s).

    .venv/bin/python bench/bench_bot.py --db sqlite --rate 300 --seconds 10
    .venv/bin/python bench/bench_bot.py --db pg --rate 0 --count 3000
    .venv/bin/python bench/bench_bot.py --mode multi --rate 200 --seconds 10 --people 1000
    .venv/bin/python bench/bench_bot.py --mode multi --rate 200 --people 1000 --processes 2

Both bots run on the service's event loop (uvloop when installed, ``--loop``); the telesip bot
with the collector thresholds ``telesip bot`` sets (``--default-gc``: CPython's). The bot polls
as ``run_bot`` does: each getUpdates's batch journaled in the database in one
transaction, each update forgotten when handled (``--no-journal``: without; the trivial bot
has none).

With ``--processes N`` the bot runs as N processes behind one webhook (the service's webhook
handler on one SO_REUSEPORT port, updates journaled in the database, the pacing budget in
Redis); the bench plays Telegram's side with 32 connections at once. Their CPU is read from
/proc.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

UPDATE_IDS: list[Any] = []
PG_ADMIN_URL = os.environ.get(
    "TELESIP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class GcPauses:
    """The collector's pauses in this process, by generation, while watching."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def _watch(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    def start(self) -> None:
        """Forget what was seen and watch from now on."""
        self.pauses = {0: [], 1: [], 2: []}
        if self._watch not in gc.callbacks:
            gc.callbacks.append(self._watch)

    def stop(self) -> None:
        gc.callbacks.remove(self._watch)

    def longest_ms(self) -> float:
        return max((p for v in self.pauses.values() for p in v), default=0) * 1000

    def summary(self) -> dict[str, str]:
        return {
            f"gen{g}": f"{len(v)} x, max {max(v, default=0) * 1000:.1f} ms"
            for g, v in self.pauses.items()
        }


# ------------------------------------------------------------------ the fake (child process)


async def fake_main() -> None:
    from aiohttp import web
    from tests.fakes import FakeBotAPI, FakeUser

    fake = FakeBotAPI(bot_username="telesip_bench_bot", default_timeout=120)
    await fake.start()
    cards: dict[int, Any] = {}
    # each person's card shows a, then b, a, ... from press to press across the runs: a run
    # goes on from where the last left each card (the measured run after the warm-up's one
    # press each), so no press asks for the card already shown ("message is not modified",
    # which the trivial bot's aiogram logs with a traceback and ours ignores)
    shown: dict[int, int] = {}
    fake_gc = GcPauses()
    answered: dict[str, float] = {}
    injected: dict[str, float] = {}
    original = fake._answer_callback_query
    original_photo = fake._send_photo
    photos: dict[int, list[float]] = {}  # chat -> when each QR code arrived (multi mode)

    async def answer(params: dict[str, Any], files: dict[str, bytes]) -> bool:
        answered[str(params.get("callback_query_id"))] = time.perf_counter()
        return await original(params, files)

    async def photo(params: dict[str, Any], files: dict[str, bytes]) -> Any:
        result = await original_photo(params, files)
        photos.setdefault(int(params["chat_id"]), []).append(time.perf_counter())
        return result

    fake._handlers["answercallbackquery"] = answer
    fake._handlers["sendphoto"] = photo
    hook = Webhook(fake)

    async def run(request: web.Request) -> web.Response:
        spec = await request.json()
        people = [FakeUser(uid, f"user{uid}") for uid in spec["users"]]
        for person, (a, b) in zip(people, spec["accounts"], strict=True):
            if person.id in cards:  # a second run (after the warm-up) reuses the cards
                continue
            fake.start_chat(person)
            kb = {
                "inline_keyboard": [
                    [{"text": f"#{a}", "callback_data": f"a:open:{a}"}],
                    [{"text": f"#{b}", "callback_data": f"a:open:{b}"}],
                ]
            }
            _, body = await fake.call(
                "sendMessage", {"chat_id": person.id, "text": "card", "reply_markup": kb}
            )
            cards[person.id] = (fake.message(person, body["result"]["message_id"]), a, b)
        count, rate = int(spec["count"]), float(spec["rate"])
        multi = spec.get("mode") == "multi"
        hook.start(spec.get("webhook"))
        pressed: dict[int, list[float]] = {}  # chat -> when each press was injected
        photos.clear()
        # the harness must not stall the bot: the fake keeps every request, and a full
        # collection over them paused it for 60-100 ms (a burst of updates for the bot after)
        gc.collect()
        gc.freeze()
        fake_gc.start()
        answered.clear()
        injected.clear()
        edits_before = sum(1 for r in fake.calls("editMessageText") if r.ok)
        loop = asyncio.get_running_loop()
        start = loop.time()
        fake_cpu = time.process_time()
        for i in range(count):
            if rate > 0:
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            person = people[i % len(people)]
            msg, a, b = cards[person.id]
            target = a if shown.get(person.id, 0) % 2 else b
            shown[person.id] = shown.get(person.id, 0) + 1
            data = f"l:make:{a}" if multi else f"a:open:{target}"
            handle = fake.press(person, msg, data, forged=True)
            injected[handle.id] = time.perf_counter()
            pressed.setdefault(person.id, []).append(injected[handle.id])
        await fake.wait_for(lambda: len(answered) >= count, timeout=900)
        lost = 0
        if multi:  # done when every press's QR code (its last message) has arrived
            try:
                await fake.wait_for(lambda: sum(map(len, photos.values())) >= count, timeout=600)
            except TimeoutError:
                lost = count - sum(map(len, photos.values()))
            latencies = [
                done - at
                for chat, times in pressed.items()
                for at, done in zip(times, photos.get(chat, []), strict=False)
            ]
            first = min(injected.values())
            last = max(t for times in photos.values() for t in times)
        else:
            first, last = min(injected.values()), max(answered.values())
            latencies = [answered[k] - injected[k] for k in injected]
        fake_cpu = time.process_time() - fake_cpu
        edits = [r for r in fake.calls("editMessageText") if r.ok][edits_before:]
        return web.json_response(
            {
                "count": count,
                "seconds": last - first,
                "per_second": count / (last - first),
                "measured": "press -> QR code (3rd message)" if multi else "press -> answer",
                "p50_ms": pct(latencies, 0.50) * 1000,
                "p95_ms": pct(latencies, 0.95) * 1000,
                "p99_ms": pct(latencies, 0.99) * 1000,
                "edits_ok": len(edits),
                "lost": lost,
                "errors": [r.description for r in fake.requests if not r.ok][:5],
                "fake_gc_max_ms": fake_gc.longest_ms(),
                # the fake's own CPU (Telegram's side): on 2 cores it runs beside the bot
                "fake_cpu_ms_per_update": fake_cpu * 1000 / count,
            }
        )

    app = web.Application()
    app.router.add_post("/run", run)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    control = runner.addresses[0][1]
    print(json.dumps({"base_url": fake.base_url, "control": control, "token": fake.token}))
    sys.stdout.flush()
    await asyncio.Event().wait()


class Webhook:
    """Telegram's side of a webhook as the bench plays it: updates POSTed over ``CONNECTIONS``
    connections at once (Telegram's max_connections), each its own TCP connection, so bot
    processes sharing the port (SO_REUSEPORT) each get some. The fake's own delivery posts one
    update at a time over one connection."""

    CONNECTIONS = 32

    def __init__(self, fake: Any) -> None:
        self.fake = fake
        self.url: str | None = None
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        push = fake.push_update

        def push_update(payload: dict[str, Any]) -> dict[str, Any]:
            update: dict[str, Any] = push(payload)
            if self.url is not None:  # not for getUpdates: delivered here
                fake._updates.remove(update)
                self.queue.put_nowait(update)
            return update

        fake.push_update = push_update

    def start(self, url: str | None) -> None:
        if url is None or self.tasks:
            return
        self.url = url
        self.tasks = [asyncio.create_task(self._connection()) for _ in range(self.CONNECTIONS)]

    async def _connection(self) -> None:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector) as http:
            while True:
                update = await self.queue.get()
                while True:
                    assert self.url is not None
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.post(self.url, json=update) as resp:
                            if resp.status == 200:
                                break
                    await asyncio.sleep(0.05)  # 503 or no answer: again, as Telegram does


# ------------------------------------------------------------------ bot processes (webhook)


async def webhook_bot_main(args: argparse.Namespace) -> None:
    """One of ``--processes`` bot processes: the real webhook handler (QueueingWebhook, updates
    journaled in the database) on a shared port, the pacing budget in Redis."""
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.telegram import TelegramAPIServer
    from aiohttp import web

    from telesip.bot.app import QueueingWebhook, build_dispatcher, settle_gc
    from telesip.bot.budget import RedisBudget
    from telesip.bot.limiter import RateLimiter
    from telesip.bot.session import BotSession
    from telesip.services.dependencies import Dependencies, Rules
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    deps = Dependencies(create_engine(args.db_url), Cipher("bench-key"), rules=Rules())
    session = BotSession(api=TelegramAPIServer.from_base(args.api))
    bot = Bot(args.token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
    limiter = RateLimiter(overall_per_second=100_000)
    limiter.budget = RedisBudget.from_url(args.redis, limiter.pace, args.prefix)
    bot.session.middleware(limiter)
    dp = build_dispatcher(deps)
    app = web.Application()
    handler = QueueingWebhook(dp, bot, deps)
    handler.register(app, path="/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", args.port, reuse_port=True).start()
    settle_gc()
    print("ready", flush=True)
    await handler.maintain(bot)


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads so far, by thread name (/proc)."""
    found: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):
            stat = (task / "stat").read_text()
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            found[name] = found.get(name, 0.0) + used
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_webhook_bots(args: argparse.Namespace, url: str, info: dict[str, Any]) -> Any:
    """``--processes`` bot processes on one port; returns them and the webhook URL."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefix = f"bench-pace-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, __file__, "webhook-bot", "--db-url", url, "--api"]
    command += [info["base_url"], "--token", info["token"], "--port", str(port)]
    command += ["--redis", args.redis, "--prefix", prefix]
    bots = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(args.processes)
    ]
    for bot in bots:
        assert bot.stdout is not None and bot.stdout.readline().strip() == "ready"
    return bots, f"http://127.0.0.1:{port}/hook"


# ------------------------------------------------------------------ the bot (this process)


def trivial_dispatcher() -> Any:
    """The baseline: answer and edit with a fixed card, no database (aiogram + HTTP only)."""
    from aiogram import Dispatcher, F
    from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

    dp = Dispatcher()
    rows = [[InlineKeyboardButton(text=f"#{i}", callback_data=f"a:open:{i}")] for i in range(3)]

    @dp.callback_query(F.data.startswith("a:open:"))
    async def press(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            kb = InlineKeyboardMarkup(inline_keyboard=rows)
            await query.message.edit_text(f"card {query.data}", reply_markup=kb)

    return dp


async def make_services(db: str, workdir: Path) -> tuple[Any, Any]:
    from sqlalchemy import text

    from telesip.services.dependencies import Dependencies, Rules
    from telesip.store import migrate
    from telesip.store.crypto import Cipher
    from telesip.store.db import create_engine

    async def nothing() -> None:
        return None

    cleanup = nothing
    if db == "pg":
        name = f"telesip_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{PG_ADMIN_URL.rpartition('/')[0]}/{name}"

        async def drop() -> None:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()

        cleanup = drop
    else:
        url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    engine = create_engine(url)
    await migrate.upgrade(engine)
    return Dependencies(engine, Cipher("bench-key"), rules=Rules()), cleanup


async def bot_main(args: argparse.Namespace) -> dict[str, Any]:
    import aiohttp
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from telesip.bot.app import build_dispatcher, journaled_polling, settle_gc
    from telesip.bot.limiter import RateLimiter
    from telesip.bot.session import BotSession
    from telesip.domain.model import TelegramUser
    from telesip.domain.settings import AccountSettings, Secret
    from telesip.services import accounts

    child = subprocess.Popen(  # noqa: ASYNC220 (started once, before any update flows)
        [sys.executable, __file__, "fake"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        info = json.loads(child.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            s, cleanup = await make_services(args.db, Path(tmp))
            users = list(range(500_001, 500_001 + args.people))
            pairs = []
            for uid in users:
                person = TelegramUser(uid, f"user{uid}")
                pair = []
                for n in range(2):
                    settings = AccountSettings(
                        login=f"{uid}{n}", password=Secret("bench-pw-1"), domain="pbx.example.com"
                    )
                    pair.append(await accounts.create_account(s, person, settings))
                pairs.append(pair)
            # the telesip bot with the session build_bot gives it, the trivial with aiogram's
            session_class = AiohttpSession if args.trivial else BotSession
            session = session_class(api=TelegramAPIServer.from_base(info["base_url"]))
            bot = Bot(
                info["token"], session=session, default=DefaultBotProperties(parse_mode="HTML")
            )
            bot.session.middleware(RateLimiter(overall_per_second=100_000))
            dp = build_dispatcher(s) if not args.trivial else trivial_dispatcher()
            bots, webhook = [], None
            if args.processes:
                url = s.engine.url.render_as_string(hide_password=False)
                bots, webhook = start_webhook_bots(args, url, info)
            handled: list[float] = []

            async def timing(handler: Any, event: Any, data: dict[str, Any]) -> Any:
                started = time.perf_counter()
                try:
                    return await handler(event, data)
                finally:
                    handled.append(time.perf_counter() - started)
                    UPDATE_IDS.append(getattr(event, "update_id", None))

            dp.update.outer_middleware(timing)
            bot_gc = GcPauses()
            if not args.no_gc_freeze:
                settle_gc()  # as run_bot does

            async def poll() -> None:
                go = dp.start_polling(
                    bot, handle_signals=False, tasks_concurrency_limit=args.concurrency or None
                )
                if args.trivial or args.no_journal:
                    await go
                    return
                async with journaled_polling(bot, dp, s):  # as run_bot polls
                    await go

            polling = asyncio.create_task(
                poll() if not bots else asyncio.Event().wait()  # the bot processes have it
            )
            try:
                no_limit = aiohttp.ClientTimeout(total=None)
                async with aiohttp.ClientSession(timeout=no_limit) as http:
                    spec = {
                        "users": users,
                        "accounts": pairs,
                        "count": args.count or int(args.rate * args.seconds),
                        "rate": args.rate,
                        "mode": args.mode,
                        "webhook": webhook,
                    }
                    url = f"http://127.0.0.1:{info['control']}/run"
                    if not args.cold:
                        # a running bot: one press per person first (pool connections opened,
                        # each person's FSM row read once), not measured
                        warm = dict(spec, count=len(users), rate=min(args.rate or 300, 300))
                        async with http.post(url, json=warm) as resp:
                            await resp.json()
                        handled.clear()
                        await asyncio.sleep(6)  # every chat's pacing bucket (1/s, burst 6) refills
                    bot_gc.start()
                    profile = cProfile.Profile() if args.profile else None
                    cpu = time.process_time()
                    threads = thread_cpu()
                    cpus = [cpu_seconds(b.pid) for b in bots]
                    if profile is not None:
                        profile.enable()
                    async with http.post(url, json=spec) as resp:
                        result: dict[str, Any] = await resp.json()
                    if profile is not None:
                        profile.disable()
                        profile.dump_stats(args.profile)
                    bot_gc.stop()
                    result["gc_pauses"] = bot_gc.summary()
                    result["bot_cpu_ms_per_update"] = (
                        (time.process_time() - cpu) * 1000 / result["count"]
                    )
                    result["bot_threads_cpu_s"] = {
                        name: round(used - threads.get(name, 0.0), 2)
                        for name, used in thread_cpu().items()
                        if used - threads.get(name, 0.0) > 0
                    }
                    if bots:
                        used = [cpu_seconds(b.pid) - c for b, c in zip(bots, cpus, strict=True)]
                        result["bot_cpu_ms_per_update"] = sum(used) * 1000 / result["count"]
                        result["cpu_s_per_process"] = [round(u, 2) for u in used]
            finally:
                for process in bots:
                    process.terminate()
                    process.wait()
                if bots:
                    polling.cancel()
                else:
                    await dp.stop_polling()
                with contextlib.suppress(asyncio.CancelledError):
                    await polling
                await bot.session.close()
                await s.engine.dispose()
                await cleanup()
            result["updates_seen"] = [len(UPDATE_IDS), len(set(UPDATE_IDS))]
            result["handler_p50_ms"] = pct(handled, 0.5) * 1000
            result["handler_p99_ms"] = pct(handled, 0.99) * 1000
            result["handler_mean_ms"] = statistics.fmean(handled) * 1000 if handled else 0
            result.update(
                db=args.db, rate=args.rate, people=args.people, warm=not args.cold, mode=args.mode
            )
            result.update(processes=args.processes, journal=not (args.trivial or args.no_journal))
            return result
    finally:
        child.terminate()
        child.wait()


def main() -> None:
    if sys.argv[1:2] == ["fake"]:
        asyncio.run(fake_main())
        return
    if sys.argv[1:2] == ["webhook-bot"]:
        bot_args = argparse.ArgumentParser()
        for name in ("--db-url", "--api", "--token", "--redis", "--prefix"):
            bot_args.add_argument(name, required=True)
        bot_args.add_argument("--port", type=int, required=True)
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(webhook_bot_main(bot_args.parse_args(sys.argv[2:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "pg"), default="sqlite")
    parser.add_argument("--rate", type=float, default=300, help="presses per second; 0: burst")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--count", type=int, default=0, help="presses (default rate*seconds)")
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--trivial", action="store_true", help="baseline: no database work")
    parser.add_argument(
        "--mode",
        choices=("callback", "multi"),
        default="callback",
        help="callback: answer + edit; multi: /links answer (edit + link + QR code)",
    )
    parser.add_argument(
        "--no-journal",
        action="store_true",
        help="poll without the update journal (run_bot journals every update)",
    )
    parser.add_argument(
        "--loop", choices=("auto", "uvloop", "asyncio"), default=None, help="the event loop"
    )
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="CPython's collector thresholds (`telesip bot` sets GC_REQUEST_THRESHOLDS)",
    )
    parser.add_argument("--no-gc-freeze", action="store_true", help="skip run_bot's settle_gc()")
    parser.add_argument(
        "--cold", action="store_true", help="measure from start-up (no warm-up pass)"
    )
    parser.add_argument("--profile", help="write a cProfile of the bot while it runs here")
    parser.add_argument(
        "--processes",
        type=int,
        default=0,
        help="N bot processes behind one webhook (budget in Redis) instead of polling here",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="for --processes")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=-1,
        help="aiogram tasks_concurrency_limit (default: run_bot's HANDLER_LIMIT; 0: none)",
    )
    args = parser.parse_args()
    if args.concurrency < 0:
        from telesip.bot.app import HANDLER_LIMIT

        args.concurrency = HANDLER_LIMIT
    if args.rate == 0 and not args.count:
        args.count = 3000
    from telesip import eventloop

    if not (args.trivial or args.default_gc):
        eventloop.tune_gc(eventloop.GC_REQUEST_THRESHOLDS)  # as `telesip bot` runs
    # both bots on the loop the service runs on (uvloop when installed; --loop asyncio: not)
    result = eventloop.run(bot_main(args), choice=args.loop)
    result["loop"] = eventloop.loop_name(args.loop)
    result["gc_thresholds"] = list(gc.get_threshold())
    result["load"] = Path("/proc/loadavg").read_text()[:14]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
