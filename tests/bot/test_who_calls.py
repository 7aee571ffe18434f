"""The bot names the caller accounts a call rings from and says how to allow them: on /calls
and when a call is dialled; until a caller account exists it says calls are not set up. The
list is the database's (``telegram_callers``), so a bot in another process sees the same."""

from __future__ import annotations

import pytest

from telesip.services import calls
from telesip.services.callers import caller_info, forget_caller, record_caller
from tests.bot.conftest import ALICE, BOB, CAROL, Harness, tg

NOT_SET_UP = "Calls are not set up yet: this service has no Telegram account to call you from."
ALLOW = "Settings → Privacy and Security → Calls."


@pytest.mark.both_backends
async def test_people_learn_which_account_calls_them_and_how_to_allow_it(h: Harness) -> None:
    # no caller account logged in anywhere: /calls says so (dialling: tests/bot/test_say_once.py)
    listing = await h.command(ALICE, "/calls")
    assert listing.content == f"No calls yet. Send me a phone number to call it.\n\n{NOT_SET_UP}"
    line = await h.new_account(ALICE)

    # `telesip telegram login` (or a worker connecting it) records the account
    await record_caller(
        h.deps, caller_info(501, "Telesip Calls", "telesip_calls", "+7 916 123-45-67")
    )
    await h.command(ALICE, "/call 5551234")
    listing = await h.command(ALICE, "/calls")
    assert listing.content.startswith("Latest calls\n\n↗️")
    assert listing.content.endswith(
        "\n\nCalls come from @telesip_calls (Telesip Calls): allow calls from it in " + ALLOW
    )
    assert "4567" not in listing.content  # the phone is for operators, never shown here
    (call,) = await calls.recent_calls(h.deps, tg(ALICE))
    await calls.hang_up(h.deps, tg(ALICE), call.id)
    reply = await h.command(ALICE, "/call 5551234")
    assert reply.content == (
        f"Calling 5551234 from SIP account #{line}. You will get a Telegram call first: answer it "
        "and the number is dialled.\n\nCalls come from @telesip_calls (Telesip Calls): allow calls "
        f"from it in {ALLOW}"
    )
    carol = await h.command(CAROL, "/calls")
    assert carol.content.endswith(
        "Звонки приходят от @telesip_calls (Telesip Calls): разрешите его звонки в Настройки → "
        "Конфиденциальность → Звонки."
    )

    # several accounts form a pool: all of them are named; names are text, not markup
    await record_caller(h.deps, caller_info(502, "<b>Ops</b> & Co", None, None))
    listing = await h.command(BOB, "/calls")
    assert listing.content.endswith(
        "Calls come from @telesip_calls (Telesip Calls), <b>Ops</b> & Co: allow calls from "
        f"them in {ALLOW}"
    )

    # `telesip telegram logout` removes them
    await forget_caller(h.deps, 501)
    await forget_caller(h.deps, 502)
    listing = await h.command(BOB, "/calls")
    assert listing.content.endswith(NOT_SET_UP)
