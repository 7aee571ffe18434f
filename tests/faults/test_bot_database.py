"""The database goes away under the bot (issue 18, item 2): the real bot against the fake Bot
API, its database (PostgreSQL) reached through a proxy the test cuts. People are told to try
again in a moment, in their language; once the database answers, the same presses work with no
restart, and what was committed before is all there."""

from __future__ import annotations

from dataclasses import replace

from telesip.bot.limiter import RateLimiter
from telesip.domain.clock import FakeClock
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from telesip.store.db import create_engine
from tests.bot.conftest import ALICE, CAROL, running_bot
from tests.bot.conftest import tg as _tg
from tests.fakes import FakeBotAPI

from .conftest import Proxy

EN = "please try again in a moment"
RU = "попробуйте ещё раз через минуту"


async def test_the_bot_says_try_again_while_the_database_restarts(
    pg: Dependencies, fake: FakeBotAPI
) -> None:
    proxy = Proxy(("127.0.0.1", int(pg.engine.url.port or 5432)))
    await proxy.start()
    s = replace(pg, engine=create_engine(proxy.url(pg.engine.url.render_as_string(False))))
    limiter = RateLimiter(overall_per_second=1000, per_chat_burst=1000, edit_burst=1000)
    try:
        async with running_bot(fake, s, FakeClock(), limiter) as h:
            first = await h.new_account(ALICE)
            listing = await h.command(ALICE, "/softphone")
            proxy.cut()
            answer = await fake.press_button(ALICE, listing, f"#{first}")
            assert answer is not None and EN in answer.text, answer
            fake.send_text(CAROL, "/softphone")  # unknown to the bot's conversation cache too
            assert RU in (await fake.next_message(CAROL)).content
            fake.send_text(ALICE, "/softphone")
            assert EN in (await fake.next_message(ALICE)).content
            proxy.restore()
            card = await h.card(ALICE, first)  # the pool reconnects by itself
            await fake.wait_for(lambda: f"SIP account #{first}" in card.content)
            second = await h.new_account(ALICE)
            for account_id in (first, second):  # both committed, read past the proxy
                card_of = await accounts.get_card(pg, _tg(ALICE), account_id)
                assert card_of.summary.id == account_id
    finally:
        await s.engine.dispose()
        await proxy.close()
