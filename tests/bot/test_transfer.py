"""R3-R8 through the inline flow: Transfer, Receive, Transfer back, Send back."""

from __future__ import annotations

import pytest

from telesip.services import accounts, billing
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, PASSWORD, Harness, tg
from tests.fakes import FakeInlineMessage, FakeUser

ASSIGN = "Assign a user to a SIP account"
UNLINK = "Transfer the SIP account (it leaves your plan)"


async def send_offer(h: Harness, method: str, to: FakeUser = BOB) -> tuple[int, FakeInlineMessage]:
    """Alice connects an account and sends it to ``to`` with ``method`` (assign/unlink)."""
    await h.command(to, "/start")
    account_id = await h.new_account(ALICE)
    card = h.fake.last_message(ALICE)
    answer = await h.fake.inline_query_from_button(ALICE, card, "Transfer")
    assert answer.titles == [ASSIGN, UNLINK]
    assert answer.is_personal and answer.cache_time == 0
    msg = h.fake.choose_inline_result(ALICE, answer, f"{method}:{account_id}", into_chat_with=to)
    assert "@alice sends you SIP account" in msg.content and "Receive" in msg.content
    await h.fake.wait_for_request("editMessageReplyMarkup")  # the offer is live
    assert "until" in msg.button_texts[0]
    return account_id, msg


@pytest.mark.both_backends
async def test_assign_receive_twice_and_by_sender(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "assign")
    own = await fake.press_inline_button(ALICE, msg, "Receive")
    assert own.show_alert and "cannot receive your own offer" in (own.text or "")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "received" in msg.content)
    assert msg.content.startswith("✅ @bob received SIP account")
    assert "assigned for calls" in msg.content and msg.button_texts == ["↩️ Send back"]
    again = await fake.press_inline(CAROL, msg, "o:rcv:0", forged=True)
    assert again.show_alert and "уже получено" in (again.text or "")
    sp = await accounts.softphone(h.deps, tg(BOB))
    assert [a.id for a in sp.assigned_to_me] == [account_id]
    alice = await accounts.softphone(h.deps, tg(ALICE))
    assert alice.owned[0].user_id == BOB.id  # R4: still the owner's, now with Bob as user
    listing = await h.command(ALICE, "/softphone")
    assert "→ @bob" in listing.content
    bob_list = await h.command(BOB, "/softphone")
    assert (
        "Assigned to you" in bob_list.content and f"#{account_id} from @alice" in bob_list.content
    )
    await fake.press_button(BOB, bob_list, f"#{account_id} from")
    await fake.wait_for(lambda: "Assigned to you for calls" in bob_list.content)
    assert bob_list.button_texts == ["↩️ Send back", "🗑 Delete", "« Back"]  # R5
    assert "pbx.example.com" not in bob_list.content
    forged = await fake.press(BOB, bob_list, f"a:settings:{account_id}", forged=True)
    assert forged.show_alert and "assigned to you for calls" in (forged.text or "")


async def test_receive_after_expiry_changes_nothing(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "unlink")
    h.clock.advance(301)
    before = msg.content
    answer = await fake.press_inline_button(BOB, msg, "Receive")
    assert answer.show_alert and "expired" in (answer.text or "")
    assert msg.content == before
    assert (await accounts.get_card(h.deps, tg(ALICE), account_id)).summary.owner_id == ALICE.id


async def test_new_offer_replaces_the_old_one(h: Harness) -> None:
    fake = h.fake
    account_id, first = await send_offer(h, "assign")
    card = fake.last_message(ALICE)
    answer = await fake.inline_query_from_button(ALICE, card, "Transfer")
    second = fake.choose_inline_result(ALICE, answer, f"unlink:{account_id}", into_chat_with=CAROL)
    await fake.wait_for_request("editMessageReplyMarkup")
    await fake.wait_for(lambda: first.content == "This offer was replaced by a newer one.")
    assert first.buttons == []  # the old message lost its Receive button
    old = await fake.press_inline(BOB, first, "o:rcv:0", forged=True)  # a stale client
    assert old.show_alert and "replaced" in (old.text or "")
    await fake.press_inline_button(CAROL, second, "Receive")
    await fake.wait_for(lambda: "получил(а) SIP-аккаунт" in second.content)  # Carol reads Russian


@pytest.mark.both_backends
async def test_unlink_then_transfer_back_with_wrong_and_right_password(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "unlink")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "it is now theirs" in msg.content)
    assert msg.button_texts == ["↩️ Take back", "↩️ Send back"]
    assert msg.button("Take back")["switch_inline_query_current_chat"] == f"{account_id} "
    assert (await accounts.softphone(h.deps, tg(ALICE))).owned == []  # R6: gone from Alice's
    assert [a.id for a in (await accounts.softphone(h.deps, tg(BOB))).owned] == [account_id]

    empty = await fake.inline_query_from_button(ALICE, msg, "Take back")
    assert empty.results == [] and "Type the SIP password" in (empty.button or {})["text"]
    wrong = await fake.inline_query_from_button(ALICE, msg, "Take back", typed="guess")
    assert wrong.results == [] and (wrong.button or {})["text"] == "Wrong password."
    stranger = await fake.inline_query_from_button(MALLORY, msg, "Take back", typed=PASSWORD)
    assert stranger.results == []
    # typing the password one keystroke at a time never locks Alice out
    for i in range(1, len(PASSWORD)):
        partial = await fake.inline_query_from_button(ALICE, msg, "Take back", typed=PASSWORD[:i])
        assert partial.results == []
    right = await fake.inline_query_from_button(ALICE, msg, "Take back", typed=PASSWORD)
    assert right.titles == [f"Take SIP account #{account_id} back"]
    assert PASSWORD not in str(right.results)
    back = fake.choose_inline_result(ALICE, right, f"back:{account_id}", into_chat_with=BOB)
    await fake.wait_for(lambda: "is back with" in back.content)
    assert PASSWORD not in back.content and PASSWORD not in str(back.history)
    assert [a.id for a in (await accounts.softphone(h.deps, tg(ALICE))).owned] == [account_id]
    note = await fake.next_message(BOB)
    assert note.content == f"@alice took SIP account #{account_id} back."


async def test_transfer_back_guessing_is_rate_limited(h: Harness) -> None:
    fake = h.fake
    _account_id, msg = await send_offer(h, "unlink")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "it is now theirs" in msg.content)
    texts = []
    for guess in ("aaaa", "bbbb", "cccc", "dddd", "eeee", PASSWORD):
        answer = await fake.inline_query_from_button(ALICE, msg, "Take back", typed=guess)
        texts.append((answer.button or {}).get("text", "") if not answer.results else "result")
    assert texts[:4] == ["Wrong password."] * 4
    assert texts[4].startswith("Too many wrong passwords") and texts[5].startswith("Too many")


async def test_send_back_assigned_account(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "assign")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "received" in msg.content)
    fake.skip_messages(ALICE)
    stranger = await fake.press_inline_button(MALLORY, msg, "Send back")
    assert stranger.show_alert and "does not exist" in (stranger.text or "")
    await fake.press_inline_button(BOB, msg, "Send back")
    await fake.wait_for(lambda: "send SIP account" in msg.content)
    await fake.press_inline_button(BOB, msg, "Cancel")
    await fake.wait_for(lambda: msg.button_texts == ["↩️ Send back"])
    await fake.press_inline_button(BOB, msg, "Send back")
    await fake.wait_for(lambda: "Yes, send back" in msg.button_texts)
    await fake.press_inline_button(BOB, msg, "Yes, send back")
    await fake.wait_for(lambda: "sent SIP account" in msg.content)
    assert msg.content == f"↩️ @bob sent SIP account #{account_id} back to @alice."
    note = await fake.next_message(ALICE)
    assert note.content == f"@bob sent SIP account #{account_id} back to you."
    assert (await accounts.softphone(h.deps, tg(BOB))).assigned_to_me == []


async def test_send_back_unlinked_account_is_a_receive_for_the_sender(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "unlink")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "it is now theirs" in msg.content)
    await fake.press_inline_button(BOB, msg, "Send back")
    await fake.wait_for(lambda: "Yes, send back" in msg.button_texts)
    await fake.press_inline_button(BOB, msg, "Yes, send back")
    await fake.wait_for(lambda: "sends SIP account" in msg.content)
    assert "@alice, press Receive" in msg.content
    other = await fake.press_inline_button(CAROL, msg, "Receive")
    assert other.show_alert and "адресовано другому" in (other.text or "")
    await fake.press_inline_button(ALICE, msg, "Receive")
    await fake.wait_for(lambda: "is back with" in msg.content)
    assert [a.id for a in (await accounts.softphone(h.deps, tg(ALICE))).owned] == [account_id]


async def test_free_plan_offers_only_unlink(h: Harness) -> None:
    await h.command(ALICE, "/start")
    await billing.set_subscription(h.deps, tg(ALICE), "free")
    account_id = await h.new_account(ALICE)
    card = h.fake.last_message(ALICE)
    answer = await h.fake.inline_query_from_button(ALICE, card, "Transfer")
    assert answer.titles == [UNLINK]
    stranger = await h.fake.inline_query(MALLORY, f"#{account_id}")
    assert stranger.results == []


@pytest.mark.both_backends
async def test_two_people_press_receive_at_once_exactly_one_wins(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "unlink")
    first = fake.press_inline_button(BOB, msg, "Receive")
    second = fake.press_inline_button(CAROL, msg, "Receive")  # same moment, same message
    answers = [await first, await second]
    winners = [a for a in answers if not a.show_alert]
    losers = [a for a in answers if a.show_alert]
    assert len(winners) == 1 and len(losers) == 1
    assert "already been received" in (losers[0].text or "") or "уже получено" in (
        losers[0].text or ""
    )
    await fake.wait_for(lambda: msg.edit_date is not None and "✅" in msg.content)
    holders = [u for u in (BOB, CAROL) if (await accounts.softphone(h.deps, tg(u))).owned]
    assert len(holders) == 1
    assert [a.id for a in (await accounts.softphone(h.deps, tg(holders[0]))).owned] == [account_id]
    assert f"{holders[0].username} received SIP account #{account_id}" in msg.content or (
        f"{holders[0].username} получил(а)" in msg.content
    )


async def test_a_forged_send_back_cannot_retarget_another_message(h: Harness) -> None:
    fake = h.fake
    account_id, msg = await send_offer(h, "assign")
    await fake.press_inline_button(BOB, msg, "Receive")
    await fake.wait_for(lambda: "received" in msg.content)
    other_id = await h.new_account(ALICE)  # a second account, never sent to Bob
    card = fake.last_message(ALICE)
    answer = await fake.inline_query_from_button(ALICE, card, "Transfer")
    other = fake.choose_inline_result(ALICE, answer, f"assign:{other_id}", into_chat_with=BOB)
    await fake.wait_for_request("editMessageReplyMarkup")
    forged = await fake.press_inline(BOB, other, f"o:sbok:{account_id}", forged=True)
    assert forged.show_alert and forged.text == "This button is out of date."
    assert "Receive" in other.button_texts[0]
    assert [a.id for a in (await accounts.softphone(h.deps, tg(BOB))).assigned_to_me] == [
        account_id
    ]
