"""R1, R2, R5, R10 and the New-account wizard, as people use the bot."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from telesip.bot.app import disable_unused_forever
from telesip.services import accounts
from tests.bot.conftest import ALICE, BOB, CAROL, PASSWORD, SHORTCUT, Harness
from tests.bot.conftest import tg as _tg


@pytest.mark.both_backends
async def test_new_account_by_shortcut_deletes_the_password_message(h: Harness) -> None:
    account_id = await h.new_account(ALICE)
    sent = [m for m in h.fake.messages(ALICE) if m.sender is not None and m.text == SHORTCUT]
    assert sent and sent[0].deleted
    card = h.fake.last_message(ALICE)
    assert f"SIP account #{account_id}" in card.content
    assert "Server: pbx.example.com (UDP)" in card.content and "Login: 100" in card.content
    assert PASSWORD not in card.content
    assert {"⚙️ Settings", "⏸ Disable", "📤 Transfer", "🗑 Delete"} <= set(card.button_texts)
    transfer = card.button("Transfer")["switch_inline_query_chosen_chat"]
    assert transfer == {
        "query": f"#{account_id}",
        "allow_user_chats": True,
        "allow_bot_chats": False,
        "allow_group_chats": False,
        "allow_channel_chats": False,
    }
    listing = await h.command(ALICE, "/softphone")
    assert f"#{account_id} 100@pbx.example.com" in listing.content


async def test_new_account_step_by_step_with_bad_input(h: Harness) -> None:
    fake = h.fake
    listing = await h.command(ALICE, "/softphone")
    assert "no SIP accounts" in listing.content
    await fake.press_button(ALICE, listing, "New")
    assert "login" in (await fake.next_message(ALICE)).content
    fake.send_text(ALICE, "bad login")
    again = await fake.next_message(ALICE)
    assert "login must be" in again.content and "Send the login" in again.content
    fake.send_text(ALICE, "200")
    assert "password" in (await fake.next_message(ALICE)).content
    fake.send_text(ALICE, "pw-Secret-9")
    server_prompt = await fake.next_message(ALICE)
    assert "server" in server_prompt.content
    assert fake.messages(ALICE)[-2].deleted  # the password message is gone
    fake.send_text(ALICE, "not a host!")
    assert "not a valid host name" in (await fake.next_message(ALICE)).content
    fake.send_text(ALICE, "sip.example.org:5070")
    proxy = await fake.next_message(ALICE)
    await fake.press_button(ALICE, proxy, "Skip")
    await fake.wait_for(lambda: "Transport" in proxy.content)
    await fake.press_button(ALICE, proxy, "TCP")
    card = await fake.next_message(ALICE)
    assert "is connected" in card.content
    assert "Server: sip.example.org:5070 (TCP)" in card.content and "Login: 200" in card.content
    assert not any("pw-Secret-9" in m.content for m in fake.messages(ALICE) if not m.deleted)


async def test_card_actions_disable_enable_settings_delete(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    card = fake.last_message(ALICE)
    answer = await fake.press_button(ALICE, card, "Disable")
    assert answer.text == "Disabled."
    await fake.wait_for(lambda: "Enable" in " ".join(card.button_texts))
    assert "disabled" in card.content
    await fake.press_button(ALICE, card, "Enable")
    await fake.wait_for(lambda: "Disable" in " ".join(card.button_texts))
    await fake.press_button(ALICE, card, "Settings")
    await fake.wait_for(lambda: "Settings of SIP account" in card.content)
    assert "Server (server): pbx.example.com" in card.content and PASSWORD not in card.content
    await fake.press_button(ALICE, card, "TLS")
    await fake.wait_for(lambda: "• TLS" in card.button_texts)
    await fake.press_button(ALICE, card, "Back")
    await fake.wait_for(lambda: "(TLS)" in card.content)
    await fake.press_button(ALICE, card, "Delete")
    await fake.wait_for(lambda: "Delete SIP account" in card.content)
    await fake.press_button(ALICE, card, "Yes, delete")
    await fake.wait_for(lambda: "no SIP accounts" in card.content)
    assert (await accounts.softphone(h.deps, _tg(ALICE))).owned == []
    assert account_id


async def test_one_line_settings_change(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    card = fake.last_message(ALICE)
    await fake.press_button(ALICE, card, "Settings")
    await fake.wait_for(lambda: "Settings of" in card.content)
    await fake.press_button(ALICE, card, "Change")
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "sip:101:n3w-Pass@pbx2.example.com;transport=tcp")
    saved = await fake.next_message(ALICE)
    assert (
        "Settings saved" in saved.content and "Server (server): pbx2.example.com" in saved.content
    )
    assert fake.messages(ALICE)[-2].deleted
    got = await accounts.get_card(h.deps, _tg(ALICE), account_id)
    assert got.settings is not None and got.settings["login"] == "101"


async def test_russian_texts(h: Harness) -> None:
    fake = h.fake
    hello = await h.command(CAROL, "/start")
    assert hello.content.startswith("Здравствуйте, Carol!")
    listing = await h.command(CAROL, "/softphone")
    assert "У вас пока нет SIP-аккаунтов" in listing.content
    assert listing.button_texts == ["➕ Новый"]
    account_id = await h.new_account(CAROL)
    card = fake.last_message(CAROL)
    assert f"SIP-аккаунт #{account_id} подключён" in card.content
    assert "📤 Передать" in card.button_texts
    answer = await fake.press(CAROL, card, f"a:open:{account_id + 100}", forged=True)
    assert (
        answer.show_alert
        and answer.text == f"SIP-аккаунта #{account_id + 100} нет (возможно, он удалён)."
    )
    assert fake.my_commands("ru") == ["softphone", "calls", "call", "subscriptions", "help"]
    assert BOB  # Bob is in the English tests


async def test_a_command_leaves_the_wizard(h: Harness) -> None:
    fake = h.fake
    listing = await h.command(ALICE, "/softphone")
    await fake.press(ALICE, listing, "n:start:")
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "200")
    assert "password" in (await fake.next_message(ALICE)).content
    await h.command(ALICE, "/softphone")
    fake.send_text(ALICE, "not a password any more")
    assert (await fake.next_message(ALICE)).content == "I did not understand that. /help"
    assert not fake.messages(ALICE)[-2].deleted


async def test_settings_by_name_value_lines_and_bad_input(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    card = fake.last_message(ALICE)
    await fake.press_button(ALICE, card, "Settings")
    await fake.wait_for(lambda: "Settings of" in card.content)
    await fake.press_button(ALICE, card, "Change")
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "dtmf = smoke signals")
    bad = await fake.next_message(ALICE)
    assert "DTMF mode must be" in bad.content and "Please try again" in bad.content
    fake.send_text(ALICE, "proxy = sbc.example.com\ncodecs = PCMA, opus\nname = Front desk")
    saved = await fake.next_message(ALICE)
    assert "Settings saved" in saved.content
    assert "Outbound proxy (proxy): sbc.example.com" in saved.content
    assert "Codecs (codecs): PCMA, opus" in saved.content
    assert "Display name (name): Front desk" in saved.content
    got = await accounts.get_card(h.deps, _tg(ALICE), account_id)
    assert got.settings is not None and got.settings["outbound_proxy"] == "sbc.example.com"


async def test_media_encryption_in_the_settings_view_and_by_a_line(h: Harness) -> None:
    """The settings view shows the SRTP setting in force (the transport's default until set);
    ``srtp = required`` sets it, ``srtp = -`` goes back to the default, a wrong value is
    explained."""
    fake = h.fake
    account_id = await h.new_account(ALICE)
    card = fake.last_message(ALICE)
    await fake.press_button(ALICE, card, "Settings")
    await fake.wait_for(lambda: "Settings of" in card.content)
    assert "Media encryption (SRTP: off, optional, required) (srtp): off" in card.content
    await fake.press_button(ALICE, card, "TLS")
    await fake.wait_for(lambda: "(srtp): optional" in card.content)
    await fake.press_button(ALICE, card, "Change")
    await fake.next_message(ALICE)
    fake.send_text(ALICE, "srtp = always")
    bad = await fake.next_message(ALICE)
    assert "media encryption must be off, optional or required" in bad.content
    fake.send_text(ALICE, "srtp = required")
    saved = await fake.next_message(ALICE)
    assert "Settings saved" in saved.content and "(srtp): required" in saved.content
    got = await accounts.get_card(h.deps, _tg(ALICE), account_id)
    assert got.settings is not None and got.settings["media_encryption"] == "required"


async def test_unused_lists_idle_accounts_with_one_press_disable(h: Harness) -> None:
    """R11: /unused lists the owner's accounts with no call and no registration change for
    TELESIP_UNUSED_DAYS days; Disable disables one and shows the list again."""
    fake = h.fake
    first = await h.new_account(ALICE)
    empty = await h.command(ALICE, "/unused")
    assert "No unused SIP accounts" in empty.content and "30 days" in empty.content
    h.clock.advance(31 * 86400)
    listing = await h.command(ALICE, "/unused")
    assert f"#{first} 100@pbx.example.com" in listing.content
    assert "no calls and no registration changes for 30 days" in listing.content
    bobs = await h.command(BOB, "/unused")
    assert "No unused SIP accounts" in bobs.content  # only the owner's are listed
    answer = await fake.press_button(ALICE, listing, f"Disable #{first}")
    assert answer.text == f"SIP account #{first} is disabled."
    await fake.wait_for(lambda: "No unused SIP accounts" in listing.content)
    card = await accounts.get_card(h.deps, _tg(ALICE), first)
    assert not card.summary.enabled


async def test_the_unused_sweep_disables_and_tells_the_owner(h: Harness) -> None:
    """TELESIP_DISABLE_UNUSED: the bot process's sweep disables an unused account and its
    owner gets a notice through the notifier (the events are the bot process's own)."""
    fake = h.fake
    idle = await h.new_account(ALICE)
    h.clock.advance(31 * 86400)
    sweep = asyncio.create_task(disable_unused_forever(h.deps, every=3600))
    try:
        await fake.wait_for(
            lambda: any(
                f"SIP account #{idle} was disabled automatically" in m.content
                for m in fake.messages(ALICE)
            )
        )
    finally:
        sweep.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweep
    assert not (await accounts.get_card(h.deps, _tg(ALICE), idle)).summary.enabled


async def test_a_copy_of_a_connected_line_says_why_in_the_persons_language(h: Harness) -> None:
    """R11: Carol connects the line Alice connected: her copy is disabled, its card says why in
    her language and names nobody; Enable is refused with the same words."""
    fake = h.fake
    alices = await h.new_account(ALICE)
    copy = await h.new_account(CAROL)  # CAROL reads Russian
    card = fake.last_message(CAROL)
    assert "уже подключён в telesip" in card.content and "100@pbx.example.com" in card.content
    assert "Alice" not in card.content and "alice" not in card.content
    answer = await fake.press_button(CAROL, card, "Включить")
    assert "уже подключён" in (answer.text or ""), answer
    assert not (await accounts.get_card(h.deps, _tg(CAROL), copy)).summary.enabled
    assert (await accounts.get_card(h.deps, _tg(ALICE), alices)).summary.enabled
