"""An install without telesip[calls]: the bot says calls are not enabled on this server, in the
person's language, and a dialled number becomes no call request."""

from __future__ import annotations

import pytest

from telesip import extras
from telesip.services import calls
from telesip.services.callers import caller_info, record_caller
from tests.bot.conftest import ALICE, CAROL, Harness, tg

OFF_EN = (
    "Calls are not enabled on this server: it runs without call support (the operator "
    "installs telesip[calls] to turn them on)."
)


async def test_without_the_calls_extra_the_bot_says_calls_are_off(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = await h.new_account(ALICE)
    # the calls extra's modules as an install without them sees them: not found
    monkeypatch.setitem(extras.EXTRAS, "calls", ("telesip_absent_ntgcalls",))
    assert extras.missing("calls") == "telesip_absent_ntgcalls"

    reply = await h.command(ALICE, "/call 5551234")
    assert reply.content == OFF_EN
    reply = await h.command(ALICE, "5551234")  # a number sent as is: the same
    assert reply.content == OFF_EN
    assert await calls.recent_calls(h.deps, tg(ALICE)) == []  # nothing waits for a worker

    listing = await h.command(ALICE, "/calls")
    assert listing.content == f"No calls yet. Send me a phone number to call it.\n\n{OFF_EN}"
    carol = await h.command(CAROL, "/call 5551234")
    assert carol.content.startswith("Звонки на этом сервере не включены")

    monkeypatch.undo()  # the same bot with the extra installed places the call
    await record_caller(h.deps, caller_info(501, "Telesip Calls", "telesip_calls", None))
    reply = await h.command(ALICE, "/call 5551234")
    assert reply.content.startswith(f"Calling 5551234 from SIP account #{line}.")
