"""Say the right thing once, early (issue 17 item 6): dialling on a server with no caller account
gets one answer that says what would make it work (the administrator is told the command), and
a person whose plan has no free seat is told so on pressing New, before typing anything."""

from __future__ import annotations

from telesip.services import billing, calls
from tests.bot.conftest import ALICE, BOB, CAROL, Harness, tg


async def _replies_to(h: Harness, user: object, text: str) -> list[str]:
    """Every message the bot sends after ``text``, once the answer has come (the bot's answer
    to a second message marks the end)."""
    from tests.fakes import FakeUser

    assert isinstance(user, FakeUser)
    h.fake.skip_messages(user)
    first = await h.command(user, text)
    marker = await h.command(user, "/help")  # handled after the first: everything came before
    bot = h.fake.bot_messages(user)
    return [m.content for m in bot[bot.index(first) : bot.index(marker)]]


async def test_dialling_with_no_caller_account_gets_one_answer(h: Harness) -> None:
    await h.new_account(ALICE)
    replies = await _replies_to(h, ALICE, "+15551234567")
    assert len(replies) == 1, replies
    (reply,) = replies
    assert reply.startswith("Calls are not set up on this server yet")
    assert "telesip telegram login" in reply and "try again later" not in reply
    assert await calls.recent_calls(h.deps, tg(ALICE)) == []  # nothing was requested


async def test_an_employee_is_told_to_ask_the_administrator_in_their_language(
    h: Harness,
) -> None:
    await h.command(CAROL, "/start")
    await h.new_account(CAROL)
    await billing.set_subscription(h.deps, tg(CAROL), "free")
    replies = await _replies_to(h, CAROL, "/call 5551234")
    assert len(replies) == 1, replies
    assert replies[0].startswith("Звонки на этом сервере ещё не настроены")
    assert "Попросите администратора" in replies[0]


async def test_new_with_no_free_seat_is_refused_on_the_press(h: Harness) -> None:
    await h.command(BOB, "/start")
    await billing.set_subscription(h.deps, tg(BOB), "free")  # one seat
    await h.new_account(BOB)
    listing = await h.command(BOB, "/softphone")
    before = len(h.fake.bot_messages(BOB))
    answer = await h.fake.press(BOB, listing, "n:start:")
    assert answer.show_alert and answer.text is not None
    assert answer.text.startswith("No free seats: your plans allow 1 paid SIP account.")
    assert "larger plan" in answer.text  # what would make it work
    # no login prompt was sent: the next thing Bob gets is the answer to his next message
    marker = await h.command(BOB, "/help")
    assert h.fake.bot_messages(BOB)[before:] == [marker]
