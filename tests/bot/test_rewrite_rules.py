"""Number-rewrite rules in the bot: Settings → Number rewrite lists them, Add takes one message
``PATTERN REPLACEMENT`` (a bad pattern is explained, in English and Russian), ✖ removes one."""

from __future__ import annotations

import pytest

from telesip.services import accounts
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, Harness, tg
from tests.fakes import FakeMessage, FakeUser


async def rules_screen(h: Harness, user: FakeUser) -> tuple[int, FakeMessage]:
    account_id = await h.new_account(user)
    card = h.fake.last_message(user)
    await h.fake.press_button(user, card, "⚙️")
    await h.fake.wait_for(lambda: "🔢" in " ".join(card.button_texts))
    await h.fake.press_button(user, card, "🔢")
    await h.fake.wait_for(lambda: "➕" in " ".join(card.button_texts))
    return account_id, card


async def add(h: Harness, user: FakeUser, screen: FakeMessage, line: str) -> FakeMessage:
    await h.fake.press_button(user, screen, "➕")
    prompt = await h.fake.next_message(user)
    assert "PATTERN REPLACEMENT" in prompt.content or "ШАБЛОН ЗАМЕНА" in prompt.content
    h.fake.send_text(user, line)
    return await h.fake.next_message(user)


async def stored(h: Harness, user: FakeUser, account_id: int) -> list[list[str]]:
    card = await accounts.get_card(h.deps, tg(user), account_id)
    assert card.settings is not None
    return list(card.settings["rewrite_rules"])


@pytest.mark.both_backends
async def test_owner_lists_adds_and_removes_rewrite_rules(h: Harness) -> None:
    fake = h.fake
    account_id, screen = await rules_screen(h, ALICE)
    assert f"Number-rewrite rules of SIP account #{account_id}" in screen.content
    assert "No rules" in screen.content

    added = await add(h, ALICE, screen, r"8(\d{10}) +7\1")
    assert "Rule added." in added.content
    assert r"1. 8(\d{10}) → +7\1" in added.content
    assert await stored(h, ALICE, account_id) == [[r"8(\d{10})", r"+7\1"]]

    # a bad pattern: the reason, the prompt again, and the next message is read as a rule
    await fake.press_button(ALICE, added, "➕")
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "(123 x")
    refused = await fake.next_message(ALICE)
    assert "(123 is not a valid pattern: missing )" in refused.content
    assert "PATTERN REPLACEMENT" in refused.content
    fake.send_text(ALICE, "just-one-word")
    again = await fake.next_message(ALICE)
    assert "Send the pattern and the replacement separated by a space." in again.content
    fake.send_text(ALICE, r"00(\d+) +\1")
    second = await fake.next_message(ALICE)
    assert r"1. 8(\d{10}) → +7\1" in second.content and r"2. 00(\d+) → +\1" in second.content

    # ✖ 1 removes the first rule; the same button on an older list is out of date
    answer = await fake.press_button(ALICE, second, "✖ 1")
    assert answer.text == "Rule removed."
    await fake.wait_for(lambda: "✖ 2" not in second.button_texts)
    assert r"1. 00(\d+) → +\1" in second.content
    assert await stored(h, ALICE, account_id) == [[r"00(\d+)", r"+\1"]]
    stale = await fake.press_button(ALICE, added, "✖ 1")
    assert stale.show_alert and stale.text == "This button is out of date."
    assert await stored(h, ALICE, account_id) == [[r"00(\d+)", r"+\1"]]
    await fake.press_button(ALICE, second, "Back")
    await fake.wait_for(lambda: "Settings of" in second.content)


async def test_others_cannot_touch_the_rules(h: Harness) -> None:
    fake = h.fake
    account_id, screen = await rules_screen(h, ALICE)
    await add(h, ALICE, screen, r"8(\d{10}) +7\1")
    hello = await h.command(MALLORY, "/start")
    for data in (f"rw:list:{account_id}:0:", f"rw:add:{account_id}:0:", f"rw:del:{account_id}:0:x"):
        answer = await fake.press(MALLORY, hello, data, forged=True)
        assert answer.show_alert and "does not exist" in (answer.text or ""), answer
    # the assigned user neither (R5)
    await accounts.reassign(h.deps, tg(ALICE), account_id, tg(BOB))
    bob_hello = await h.command(BOB, "/start")
    answer = await fake.press(BOB, bob_hello, f"rw:add:{account_id}:0:", forged=True)
    assert answer.show_alert
    assert await stored(h, ALICE, account_id) == [[r"8(\d{10})", r"+7\1"]]


async def test_rules_in_russian(h: Harness) -> None:
    account_id, screen = await rules_screen(h, CAROL)
    assert f"Правила замены номеров SIP-аккаунта #{account_id}" in screen.content
    assert "Правил нет" in screen.content
    refused = await add(h, CAROL, screen, "[0-9 x")
    assert "[0-9 — неверный шаблон: missing ]" in refused.content
    assert "ШАБЛОН ЗАМЕНА" in refused.content
    h.fake.send_text(CAROL, r"^\+?7(\d{10})$ 8\1")
    added = await h.fake.next_message(CAROL)
    assert "Правило добавлено." in added.content
    assert await stored(h, CAROL, account_id) == [[r"^\+?7(\d{10})$", r"8\1"]]
