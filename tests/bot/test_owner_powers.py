"""R2, R5, R9, R10 and the trust rules: owner actions notify the user, links, forged presses,
Telegram's limits (429 retry, a blocked user never fails the operation)."""

from __future__ import annotations

import pytest

from telesip.services import accounts
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, Harness, tg
from tests.fakes import FakeMessage


async def assigned_card(h: Harness) -> tuple[int, FakeMessage]:
    """Alice's account assigned to Bob (through the inline flow); Alice's card of it."""
    await h.command(BOB, "/start")
    account_id = await h.new_account(ALICE)
    card = h.fake.last_message(ALICE)
    answer = await h.fake.inline_query_from_button(ALICE, card, "Transfer")
    msg = h.fake.choose_inline_result(ALICE, answer, f"assign:{account_id}", into_chat_with=BOB)
    await h.fake.wait_for_request("editMessageReplyMarkup")
    await h.fake.press_inline_button(BOB, msg, "Receive")
    await h.fake.wait_for(lambda: "received" in msg.content)
    listing = await h.command(ALICE, "/softphone")
    await h.fake.press_button(ALICE, listing, f"#{account_id}")
    await h.fake.wait_for(lambda: "Take back" in " ".join(listing.button_texts))
    h.fake.skip_messages(BOB)
    return account_id, listing


@pytest.mark.both_backends
async def test_owner_disables_changes_and_takes_back_and_the_user_is_told(h: Harness) -> None:
    fake = h.fake
    account_id, card = await assigned_card(h)
    assert "User: @bob" in card.content
    await fake.press_button(ALICE, card, "Disable")
    assert (
        await fake.next_message(BOB)
    ).content == f"The owner disabled SIP account #{account_id}."
    await fake.press_button(ALICE, card, "Settings")
    await fake.wait_for(lambda: "Settings of" in card.content)
    await fake.press_button(ALICE, card, "TCP")
    note = await fake.next_message(BOB)
    assert note.content == f"The owner changed the settings of SIP account #{account_id}."
    await fake.press_button(ALICE, card, "Back")
    await fake.wait_for(lambda: "Take back" in " ".join(card.button_texts))
    answer = await fake.press_button(ALICE, card, "Take back")
    assert answer.text == "Taken back from @bob."
    note = await fake.next_message(BOB)
    assert note.content == (
        f"The owner took SIP account #{account_id} back; it is no longer assigned to you."
    )
    await fake.wait_for(lambda: "User: you" in card.content)
    assert (await accounts.softphone(h.deps, tg(BOB))).assigned_to_me == []


async def test_owner_deletes_assigned_account_and_the_user_is_told(h: Harness) -> None:
    fake = h.fake
    account_id, card = await assigned_card(h)
    await fake.press_button(ALICE, card, "Delete")
    await fake.wait_for(lambda: "Yes, delete" in card.button_texts)
    await fake.press_button(ALICE, card, "Yes, delete")
    note = await fake.next_message(BOB)
    assert note.content == (
        f"The owner deleted SIP account #{account_id}; it is no longer available to you."
    )


async def test_assigned_user_delete_returns_it_to_the_owner(h: Harness) -> None:
    fake = h.fake
    account_id, _ = await assigned_card(h)
    fake.skip_messages(ALICE)
    listing = await h.command(BOB, "/softphone")
    await fake.press_button(BOB, listing, f"#{account_id} from")
    await fake.wait_for(lambda: "Delete" in " ".join(listing.button_texts))
    await fake.press_button(BOB, listing, "Delete")
    await fake.wait_for(lambda: "Send SIP account" in listing.content)
    answer = await fake.press_button(BOB, listing, "Yes, send it back")
    assert answer.text == f"SIP account #{account_id} was sent back to its owner."
    assert (await fake.next_message(ALICE)).content == (
        f"@bob sent SIP account #{account_id} back to you."
    )
    card = await accounts.get_card(h.deps, tg(ALICE), account_id)
    assert card.summary.user_id == ALICE.id  # R10: returned, not deleted


async def test_forged_presses_from_a_stranger_change_nothing(h: Harness) -> None:
    fake = h.fake
    account_id, _ = await assigned_card(h)
    hello = await h.command(MALLORY, "/start")
    for data in (
        f"a:disable:{account_id}",
        f"a:delete_ok:{account_id}",
        f"a:takeback:{account_id}",
        f"a:open:{account_id}",
        f"a:tr_tls:{account_id}",
        f"l:make:{account_id}",
    ):
        answer = await fake.press(MALLORY, hello, data, forged=True)
        assert answer.show_alert, data
        assert (
            answer.text == f"SIP account #{account_id} does not exist (it may have been deleted)."
        )
    garbage = await fake.press(MALLORY, hello, "a:open:notanumber", forged=True)
    assert garbage.show_alert and garbage.text == "This button is out of date."
    # Bob (the assigned user) cannot administer it either (R5)
    bob_hello = await h.command(BOB, "/help")
    answer = await fake.press(BOB, bob_hello, f"a:disable:{account_id}", forged=True)
    assert answer.show_alert and "assigned to you for calls" in (answer.text or "")
    card = await accounts.get_card(h.deps, tg(ALICE), account_id)
    assert card.summary.enabled and card.summary.user_id == BOB.id
    assert card.settings is not None and card.settings["transport"] == "udp"


@pytest.mark.both_backends
async def test_settings_link_opened_twice(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    links = await h.command(ALICE, "/links")
    assert "No settings links yet" in links.content
    await fake.press_button(ALICE, links, "New link")
    await fake.wait_for(lambda: "Which account" in links.content)
    await fake.press_button(ALICE, links, f"#{account_id}")
    sent = await fake.next_message(ALICE)
    url = next(w for w in sent.content.split() if w.startswith("https://t.me/"))
    assert url.startswith("https://t.me/telesip_test_bot?start=")
    await fake.wait_for(lambda: "waiting to be opened" in links.content)
    qr = await fake.next_message(ALICE)
    assert qr.photo is not None and qr.photo.data and qr.photo.data.startswith(b"\x89PNG")
    assert qr.caption == f"QR code for SIP account #{account_id}"
    token = url.split("start=", 1)[1]

    opened = await h.command(BOB, f"/start {token}")
    assert opened.content == (
        f"SIP account #{account_id} from @alice is now assigned to you for calls. See /softphone."
    )
    note = await fake.next_message(ALICE)
    assert note.content == (
        f"@bob opened your settings link: SIP account #{account_id} is assigned to them."
    )
    late = await h.command(CAROL, f"/start {token}")
    assert late.content == "Эта ссылка с настройками уже использована."
    assert (await accounts.softphone(h.deps, tg(ALICE))).owned == []  # R9: not in /softphone
    listing = await h.command(ALICE, "/links")
    assert f"#{account_id} 100@pbx.example.com: opened → @bob" in listing.content


async def test_revoked_link_cannot_be_opened(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    links = await h.command(ALICE, "/links")
    await fake.press_button(ALICE, links, "New link")
    await fake.wait_for(lambda: "Which account" in links.content)
    await fake.press_button(ALICE, links, f"#{account_id}")
    token = (await fake.next_message(ALICE)).content.split("start=", 1)[1].split()[0]
    await fake.next_message(ALICE)  # the QR code
    listing = await h.command(ALICE, "/links")
    await fake.press_button(ALICE, listing, f"Revoke #{account_id}")
    await fake.wait_for(lambda: "revoked" in listing.content)
    refused = await h.command(BOB, f"/start {token}")
    assert refused.content == "This settings link was revoked."


async def test_429_is_retried_and_a_blocked_user_never_fails_the_operation(h: Harness) -> None:
    fake = h.fake
    account_id, card = await assigned_card(h)
    fake.block_bot(BOB)
    fake.fail_next("sendMessage", error_code=403)  # notification to Bob fails
    answer = await fake.press_button(ALICE, card, "Take back")
    assert answer.text == "Taken back from @bob."
    await fake.wait_for(lambda: "User: you" in card.content)
    # the notification goes out after the operation: it met the 403 and changed nothing
    await fake.wait_for(
        lambda: any(
            str(r.params.get("chat_id")) == str(BOB.id) and r.error_code == 403
            for r in fake.calls("sendMessage")
        )
    )
    assert (await accounts.get_card(h.deps, tg(ALICE), account_id)).summary.user_id == ALICE.id
    fake.fail_next("sendMessage", error_code=429, retry_after=1)
    reply = await h.command(ALICE, "/help")
    assert "/softphone" in reply.content
    statuses = [r.error_code for r in fake.calls("sendMessage")[-2:]]
    assert statuses == [429, None]


async def test_subscriptions_and_commands(h: Harness) -> None:
    reply = await h.command(ALICE, "/subscriptions")
    assert reply.content.startswith("Your plans\noffice: unlimited seats")
    assert "You can assign accounts to employees." in reply.content
    assert h.fake.my_commands() == ["softphone", "calls", "call", "subscriptions", "help"]
    assert h.fake.my_commands("en") == ["softphone", "calls", "call", "subscriptions", "help"]
    unknown = await h.command(ALICE, "what?")
    assert unknown.content == "I did not understand that. /help"


async def test_assigning_to_someone_else_tells_the_previous_user(h: Harness) -> None:
    fake = h.fake
    account_id, card = await assigned_card(h)
    await h.command(CAROL, "/start")
    answer = await fake.inline_query_from_button(ALICE, card, "Transfer")
    msg = fake.choose_inline_result(ALICE, answer, f"assign:{account_id}", into_chat_with=CAROL)
    await fake.wait_for_request("editMessageReplyMarkup")
    await fake.press_inline_button(CAROL, msg, "Receive")  # the sender's language
    note = await fake.next_message(BOB)
    assert note.content == f"SIP account #{account_id} is no longer assigned to you."
    assert not [m for m in fake.bot_messages(CAROL) if "закреплён за вами" in m.content]


async def test_inline_refusal_button_opens_help(h: Harness) -> None:
    reply = await h.command(ALICE, "/start help")
    assert "/softphone" in reply.content and "does not exist" not in reply.content


async def test_new_account_straight_into_a_link(h: Harness) -> None:
    fake = h.fake
    links = await h.command(ALICE, "/links")
    await fake.press_button(ALICE, links, "New account for a link")
    await fake.next_message(ALICE)  # the login prompt
    fake.send_text(ALICE, "sip:500:Link-Pa55@pbx.example.com")
    sent = await fake.next_message(ALICE)
    assert "single use" in sent.content and "Link-Pa55" not in sent.content
    qr = await fake.next_message(ALICE)
    assert qr.photo is not None
    token = sent.content.split("start=", 1)[1].split()[0]
    assert (await accounts.softphone(h.deps, tg(ALICE))).owned == []  # R9: only in /links
    opened = await h.command(BOB, f"/start {token}")
    assert "is now assigned to you" in opened.content
    assert len((await accounts.softphone(h.deps, tg(BOB))).assigned_to_me) == 1


def test_the_qr_code_image_carries_the_modules() -> None:
    """Each module of the QR code is a dark or light 8x8 square of the PNG, as encoded."""
    import io

    from PIL import Image

    from telesip.bot.qr import qr_matrix, qr_png

    url = "https://t.me/telesip_test_bot?start=abcDEF123"
    matrix = qr_matrix(url)
    image = Image.open(io.BytesIO(qr_png(url))).convert("L")
    assert image.size == (len(matrix) * 8, len(matrix) * 8)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            assert (image.getpixel((x * 8 + 4, y * 8 + 4)) == 0) is dark
    assert sum(map(sum, matrix)) > len(matrix) ** 2 // 4  # not a blank image
