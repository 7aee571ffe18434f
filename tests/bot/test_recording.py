"""Call recording in the bot: the owner turns it on and off under Settings (English and Russian),
the card says whether calls are recorded (to the assigned user too), nobody else can touch it."""

from __future__ import annotations

import pytest

from telesip.services import accounts, audit
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, Harness, tg
from tests.bot.test_owner_powers import assigned_card
from tests.fakes import FakeMessage, FakeUser


async def settings_screen(h: Harness, user: FakeUser) -> tuple[int, FakeMessage]:
    account_id = await h.new_account(user)
    card = h.fake.last_message(user)
    await h.fake.press_button(user, card, "⚙️")
    await h.fake.wait_for(lambda: "🎙" in " ".join(card.button_texts))
    return account_id, card


async def recording(h: Harness, user: FakeUser, account_id: int) -> bool:
    card = await accounts.get_card(h.deps, tg(user), account_id)
    assert card.settings is not None
    return bool(card.settings["record"])


@pytest.mark.both_backends
async def test_owner_turns_recording_on_and_off(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    card = fake.last_message(ALICE)
    await fake.press_button(ALICE, card, "⚙️")
    await fake.wait_for(lambda: "Settings of" in card.content)
    assert "Recording: off" in card.content
    assert not await recording(h, ALICE, account_id)

    answer = await fake.press_button(ALICE, card, "Record calls")
    assert answer.text == "Recording is on: you get each call's recording here."
    await fake.wait_for(lambda: "Recording: on" in card.content)
    assert "🎙 Stop recording" in card.button_texts and "🎙 Record calls" not in card.button_texts
    assert await recording(h, ALICE, account_id)
    trail = await audit.account_audit(h.deps, tg(ALICE), account_id)
    assert trail[0].action == "settings_changed" and trail[0].details == {"fields": ["record"]}

    # the same button pressed again from an older screen asks for the same state: no change
    again = await fake.press(ALICE, card, f"a:rec_on:{account_id}", forged=True)
    assert again.text == "Recording is on: you get each call's recording here."
    assert len(await audit.account_audit(h.deps, tg(ALICE), account_id)) == len(trail)

    await fake.press_button(ALICE, card, "Back")
    await fake.wait_for(lambda: "Paid by" in card.content)
    assert "🎙 Recording: on" in card.content
    await fake.press_button(ALICE, card, "⚙️")
    await fake.wait_for(lambda: "Stop recording" in " ".join(card.button_texts))
    answer = await fake.press_button(ALICE, card, "Stop recording")
    assert answer.text == "Recording is off."
    await fake.wait_for(lambda: "Record calls" in " ".join(card.button_texts))
    assert "Recording: off" in card.content
    assert not await recording(h, ALICE, account_id)


async def test_recording_in_russian(h: Harness) -> None:
    account_id, screen = await settings_screen(h, CAROL)
    assert "Запись разговоров: выкл." in screen.content
    answer = await h.fake.press_button(CAROL, screen, "Записывать звонки")
    assert answer.text == "Запись включена: запись каждого звонка придёт вам сюда."
    await h.fake.wait_for(lambda: "Запись разговоров: вкл." in screen.content)
    assert "🎙 Не записывать" in screen.button_texts
    assert await recording(h, CAROL, account_id)


async def test_the_user_is_told_and_nobody_else_can_change_it(h: Harness) -> None:
    fake = h.fake
    account_id, card = await assigned_card(h)
    await fake.press_button(ALICE, card, "⚙️")
    await fake.wait_for(lambda: "Record calls" in " ".join(card.button_texts))
    await fake.press_button(ALICE, card, "Record calls")
    told = await fake.next_message(BOB)
    assert told.content == (
        f"🎙 The owner turned on recording: calls on SIP account #{account_id} are recorded."
    )
    listing = await h.command(BOB, "/softphone")
    await fake.press_button(BOB, listing, f"#{account_id}")
    await fake.wait_for(lambda: "🎙 Recording: on" in listing.content)

    answer = await fake.press(BOB, listing, f"a:rec_off:{account_id}", forged=True)
    assert answer.show_alert and "assigned to you for calls" in (answer.text or "")
    hello = await h.command(MALLORY, "/start")
    answer = await fake.press(MALLORY, hello, f"a:rec_off:{account_id}", forged=True)
    assert answer.show_alert
    assert answer.text == f"SIP account #{account_id} does not exist (it may have been deleted)."
    assert await recording(h, ALICE, account_id)
