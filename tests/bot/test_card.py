"""The account card (issue 17 item 7): one line says whether the account works and why, in
words, with what would fix it; the owner's card groups the settings, who uses the account
and who pays for it."""

from __future__ import annotations

from telesip.bot import views
from telesip.domain.model import Role
from telesip.services import accounts
from tests.bot.conftest import ALICE, BOB, CAROL, Harness, tg
from tests.fakes import FakeUser


async def _open(h: Harness, user: FakeUser, account_id: int, wait_for: str) -> str:
    listing = await h.command(user, "/softphone")
    await h.fake.press_button(user, listing, f"#{account_id}")
    await h.fake.wait_for(lambda: wait_for in listing.content, what=wait_for)
    return listing.content


def _state(content: str) -> str:
    (line,) = [x for x in content.splitlines() if x.startswith(("State:", "Состояние:"))]
    return line


async def test_the_owner_card_groups_settings_user_and_payer(h: Harness) -> None:
    account_id = await h.new_account(ALICE)
    await accounts.report_registration(h.deps, account_id, "registered", 200)
    content = await _open(h, ALICE, account_id, "Who pays")
    lines = content.splitlines()
    assert _state(content) == "State: 🟢 registered: calls work"
    assert lines.index("State: 🟢 registered: calls work") == 1  # right under the title
    settings, user, payer = (
        lines.index("Settings"),
        lines.index("Who uses it"),
        lines.index("Who pays"),
    )
    assert settings < user < payer
    assert lines[settings + 1] == "Server: pbx.example.com (UDP)"
    assert "Login: 100" in lines[settings:user] and "Recording: off" in lines[settings:user]
    assert lines[user + 1] == "User: you"
    assert lines[payer + 1].startswith("Paid by: ")


async def test_a_failing_account_says_why_and_who_fixes_it(h: Harness) -> None:
    account_id = await h.new_account(ALICE)
    await accounts.report_registration(h.deps, account_id, "auth_failed", 403, "Forbidden")
    owner = _state(await _open(h, ALICE, account_id, "Who pays"))
    assert owner == (
        "State: 🔴 not registered: the server refused the login or password "
        "(check them in Settings)"
    )
    await h.command(BOB, "/start")  # Bob has a chat with the bot: he is told of the assignment
    await accounts.reassign(h.deps, tg(ALICE), account_id, tg(BOB))
    told = await h.fake.next_message(BOB)
    assert "assigned to you" in told.content
    employee = await _open(h, BOB, account_id, "Owner:")
    assert _state(employee) == (
        "State: 🔴 not registered: the server refused the login or password "
        "(tell the owner, @alice)"
    )
    assert "403" not in employee and "Forbidden" not in employee and "Settings" not in employee


async def test_the_state_line_in_russian_and_the_last_resorts(h: Harness) -> None:
    account_id = await h.new_account(CAROL)
    await accounts.report_registration(h.deps, account_id, "failed", 404, "Not Found")
    content = await _open(h, CAROL, account_id, "Кто платит")
    assert _state(content) == (
        "Состояние: 🔴 не зарегистрирован: сервер не знает этот логин (проверьте его в настройках)"
    )
    assert "\nНастройки\n" in content and "\nКто пользуется\n" in content
    # an answer with no known cause is quoted (escaped), the only place a SIP status shows
    await accounts.report_registration(h.deps, account_id, "failed", 488, "Not <Acceptable>")
    card = await accounts.get_card(h.deps, tg(CAROL), account_id, settings=False)
    assert views.state_line("en", card.summary, Role.OWNER) == (
        "🔴 not registered: the server said 488 Not &lt;Acceptable&gt;"
    )
    await accounts.set_enabled(h.deps, tg(CAROL), account_id, False)
    card = await accounts.get_card(h.deps, tg(CAROL), account_id, settings=False)
    assert views.state_line("en", card.summary, Role.OWNER) == "⏸ disabled: no calls in or out"
    assert views.state_line("ru", card.summary, Role.USER).startswith("⏸ выключен")
