"""Benchmark: the bot's own CPU per button press, without the network, on a busy machine.

``bench_bot.py`` measures presses end to end against the fake Bot API in another process; on a
shared 2-core machine its rates move with the load. This one feeds callback updates (a press
opening the other account's card, as ``bench_bot.py`` does) straight into the dispatcher, and
the bot's session builds each call's form data and its body and parses a canned answer the way
its session does (the telesip bot's ``BotSession``, the trivial bot's aiogram's own), but sends
nothing: what is left is the bot's own work (aiogram, middlewares,
the database read, the card's rendering). It reports the least CPU per press of eight bursts
of 800 (the least is what the code costs when the machine lets it run) and the Python calls
per press (``--profile``: deterministic, for comparing two versions under any load). Updates
are journaled as ``run_bot``'s polling does (a batch of 100 in one transaction, each forgotten
when handled; ``--no-journal``: not).

    .venv/bin/python bench/bench_bot_cpu.py                    # this checkout
    .venv/bin/python bench/bench_bot_cpu.py --trivial          # the trivial aiogram bot
    .venv/bin/python bench/bench_bot_cpu.py --root ../before   # another checkout, same venv
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.types import Update
    from bench.bench_bot import make_services, trivial_dispatcher

    from telesip.bot.app import JournaledDispatcher, build_dispatcher
    from telesip.bot.journal import Journal
    from telesip.bot.limiter import RateLimiter
    from telesip.domain.model import TelegramUser
    from telesip.domain.settings import AccountSettings, Secret
    from telesip.services import accounts

    try:  # the session build_bot gives the telesip bot (a checkout before it: aiogram's)
        from telesip.bot.session import BotSession as ServiceSession
    except ImportError:
        ServiceSession = AiohttpSession  # type: ignore[misc,assignment]

    class Canned(AiohttpSession if args.trivial else ServiceSession):  # type: ignore[misc]
        """Builds the request as the bot's session does (its body too, as aiohttp sends it)
        and parses a canned answer."""

        async def make_request(
            self,
            bot: Bot,
            method: Any,
            timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
        ) -> Any:
            self.api.api_url(token=bot.token, method=method.__api_method__)
            self.build_form_data(bot=bot, method=method)()  # the body
            result: Any = True
            if method.__api_method__ == "getMe":  # once: aiogram keeps it (bot.me())
                result = {"id": 123, "is_bot": True, "first_name": "bot", "username": "b"}
            elif method.__api_method__ != "answerCallbackQuery":
                chat = {"id": getattr(method, "chat_id", None) or 1, "type": "private"}
                result = {"message_id": 5, "date": 1_700_000_000, "chat": chat, "text": "x"}
            raw = json.dumps({"ok": True, "result": result})
            return self.check_response(bot=bot, method=method, status_code=200, content=raw).result

    people = args.people
    with tempfile.TemporaryDirectory() as tmp:
        deps, cleanup = await make_services("sqlite", Path(tmp))
        pairs = []
        for uid in range(500_001, 500_001 + people):
            person = TelegramUser(uid, f"user{uid}")
            pair = []
            for n in range(2):
                settings = AccountSettings(
                    login=f"{uid}{n}", password=Secret("bench-pw-1"), domain="pbx.example.com"
                )
                pair.append(await accounts.create_account(deps, person, settings))
            pairs.append(pair)
        bot = Bot("123:abc", session=Canned(), default=DefaultBotProperties(parse_mode="HTML"))
        bot.session.middleware(RateLimiter(overall_per_second=100_000))
        dp = trivial_dispatcher() if args.trivial else build_dispatcher(deps)

        def update(i: int) -> Update:
            uid = 500_001 + i % people
            a, b = pairs[i % people]
            target = a if (i // people) % 2 else b
            message = {
                "message_id": 5,
                "date": 1_700_000_000,
                "chat": {"id": uid, "type": "private"},
                "text": "card",
                "from": {"id": 123, "is_bot": True, "first_name": "bot"},
            }
            query = {
                "id": str(i),
                "chat_instance": "c",
                "from": {"id": uid, "is_bot": False, "first_name": "u", "language_code": "en"},
                "data": f"l:make:{a}" if args.mode == "multi" else f"a:open:{target}",
                "message": message,
            }
            return Update.model_validate(
                {"update_id": i + 1, "callback_query": query}, context={"bot": bot}
            )

        journal = not (args.trivial or args.no_journal)
        if journal:  # as run_bot polls: each getUpdates's batch journaled, each update forgotten
            assert isinstance(dp, JournaledDispatcher)
            dp.journal = Journal(deps)

        async def burst(start: int, count: int) -> None:
            slots = asyncio.Semaphore(32)  # run_bot's HANDLER_LIMIT

            async def one(u: Update) -> None:
                async with slots:
                    if journal:
                        await dp._process_update(bot, u)
                    else:
                        await dp.feed_update(bot, u)

            tasks = []
            for first in range(start, start + count, 100):  # getUpdates gives up to 100
                batch = [update(i) for i in range(first, min(first + 100, start + count))]
                if journal and hasattr(dp, "journal_batch"):
                    await dp.journal_batch(batch)
                elif journal:  # a checkout before batches: each update on its own, as it polled
                    for u in batch:
                        await dp._keep(u)
                tasks += [asyncio.create_task(one(u)) for u in batch]
            await asyncio.gather(*tasks)
            if journal and hasattr(dp.journal, "settle"):
                await dp.journal.settle()

        await burst(0, people)  # a running bot: every person pressed once
        gc.collect()
        gc.freeze()
        calls = None
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            await burst(people, 2000)
            profile.disable()
            calls = pstats.Stats(profile).total_calls // 2000  # type: ignore[attr-defined]
            if args.pstats:
                profile.dump_stats(args.pstats)
        cpu = []
        for k in range(8):
            started = time.process_time()
            await burst(people * (k + 2), 800)
            cpu.append((time.process_time() - started) * 1000 / 800)
        await deps.engine.dispose()
        await cleanup()
    return {
        "bot": "trivial" if args.trivial else "telesip",
        "mode": args.mode,
        "root": str(args.root),
        "cpu_ms_per_press_least": round(min(cpu), 3),
        "cpu_ms_per_press_all": [round(x, 3) for x in sorted(cpu)],
        "python_calls_per_press": calls,
        "journal": not (args.trivial or args.no_journal),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--trivial", action="store_true", help="the trivial aiogram bot")
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--profile", action="store_true", help="also count Python calls")
    parser.add_argument(
        "--mode",
        choices=("callback", "multi"),
        default="callback",
        help="callback: a card opened; multi: /links -> New link (edit + link + QR code)",
    )
    parser.add_argument(
        "--no-journal", action="store_true", help="without the update journal run_bot keeps"
    )
    parser.add_argument("--pstats", help="write the --profile run's cProfile here")
    args = parser.parse_args()
    root = args.root.resolve()
    sys.path[:0] = [str(root), str(root / "src")]
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
