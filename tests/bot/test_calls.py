"""Calls in the bot, as people use it: dialling a number (one line, or picking one of several),
/calls, the keypad during a call, and the messages a worker asks the bot to send (outbox)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telesip.bot.outbox import Outbox
from telesip.domain.calls import CallState, CommandKind, EndReason
from telesip.services import accounts, calls, outbox
from telesip.services.callers import caller_info, record_caller
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, Harness, tg

WORKER = 3


@pytest.fixture(autouse=True)
async def caller(h: Harness) -> None:
    """A Telegram account to ring people from (`telesip telegram login`): calls are set up."""
    await record_caller(h.deps, caller_info(501, "Telesip Calls", "telesip_calls", None))


@pytest.mark.both_backends
async def test_a_number_sent_to_the_bot_is_dialled_from_the_only_line(h: Harness) -> None:
    line = await h.new_account(ALICE)
    await accounts.update_settings(
        h.deps, tg(ALICE), line, rewrite_rules=(("8(\\d{10})", "+7\\1"),)
    )
    reply = await h.command(ALICE, "8 (495) 123-45-67")
    assert reply.content == (
        f"Calling +74951234567 from SIP account #{line}. You will get a Telegram call first: "
        "answer it and the number is dialled.\n\nCalls come from @telesip_calls (Telesip Calls): "
        "allow calls from it in Settings → Privacy and Security → Calls."
    )
    (call,) = await calls.recent_calls(h.deps, tg(ALICE))
    assert (call.number, call.state, call.account_id) == ("+74951234567", CallState.REQUESTED, line)
    busy = await h.command(ALICE, "/call 101")
    assert busy.content == "You already have a call in progress."
    listing = await h.command(ALICE, "/calls")
    assert "+74951234567" in listing.content and "in progress" in listing.content


async def test_with_several_lines_buttons_pick_one_and_strangers_cannot(h: Harness) -> None:
    first = await h.new_account(ALICE)
    second = await h.new_account(ALICE, "sip:200:pw-200@pbx.example.com")
    picker = await h.command(ALICE, "/call +1 555 0100")
    assert picker.content == "Call +15550100 from which SIP account?"
    assert picker.button_texts == [
        f"#{first} 100@pbx.example.com",
        f"#{second} 200@pbx.example.com",
    ]
    # Mallory forges the press (the number waits in Alice's conversation, not hers)
    answer = await h.fake.press(MALLORY, picker, f"c:line:{second}:", forged=True)
    assert answer.show_alert
    assert await calls.recent_calls(h.deps, tg(ALICE)) == []
    await h.fake.press_button(ALICE, picker, f"#{second}")
    await h.fake.wait_for(lambda: picker.content.startswith("Calling +15550100"))
    (call,) = await calls.recent_calls(h.deps, tg(ALICE))
    assert call.account_id == second
    # the buttons are gone; a replayed press finds the number used: stale
    assert picker.buttons == []
    again = await h.fake.press(ALICE, picker, f"c:line:{first}:", forged=True)
    assert again.show_alert
    assert len(await calls.recent_calls(h.deps, tg(ALICE))) == 1


async def test_bad_numbers_and_no_lines_get_a_clear_answer(h: Harness) -> None:
    reply = await h.command(BOB, "/call 12ab")
    assert reply.content.startswith("12ab is not a phone number")
    reply = await h.command(BOB, "+7 999 000 00 00")
    assert (
        reply.content
        == "You have no enabled SIP account to call from. Connect or enable one in /softphone."
    )
    reply = await h.command(CAROL, "/calls")
    assert reply.content.startswith("Звонков пока нет.")


async def test_keypad_sends_keys_and_hangs_up_only_for_its_person(
    h: Harness, tmp_path: Path
) -> None:
    line = await h.new_account(ALICE)
    await h.command(ALICE, "/call 5551234")
    (call,) = await calls.claim_outgoing(h.deps, WORKER, [line])
    await calls.mark_answered(h.deps, call.id, "caller")
    await outbox.show_keypad(h.deps, call)
    sender = Outbox(h.deps, h.bot, tmp_path)
    assert await sender.drain() == 1
    pad = await h.fake.next_message(ALICE)
    assert pad.content.startswith("☎️ In a call with 5551234")
    assert pad.button_texts[:3] == ["1", "2", "3"]
    answer = await h.fake.press_button(ALICE, pad, "5")
    assert answer.text == "Sent 5"
    forged = await h.fake.press(MALLORY, pad, f"c:key:{call.id}:9", forged=True)
    assert forged.show_alert
    # Hold: the button turns into Resume, and back
    assert (await h.fake.press_button(ALICE, pad, "⏸ Hold")).text == "On hold: they hear silence"
    await h.fake.wait_for(lambda: "▶️ Resume" in pad.button_texts)
    assert "⏸ Hold" not in pad.button_texts and pad.button_texts[:3] == ["1", "2", "3"]
    forged = await h.fake.press(MALLORY, pad, f"c:hold:{call.id}:", forged=True)
    assert forged.show_alert
    assert (await h.fake.press_button(ALICE, pad, "▶️ Resume")).text == "Resumed"
    await h.fake.wait_for(lambda: "⏸ Hold" in pad.button_texts)
    await h.fake.press_button(ALICE, pad, "Hang up")
    cmds = await calls.take_commands(h.deps, [call.id])
    assert [(c.kind, c.arg) for c in cmds] == [
        (CommandKind.DTMF, "5"),
        (CommandKind.HOLD, ""),
        (CommandKind.RESUME, ""),
        (CommandKind.HANGUP, ""),
    ]
    # the worker ends the call: the keypad message says so and loses its buttons
    await calls.mark_ended(h.deps, call.id, EndReason.COMPLETED, tell="call.ended")
    assert await sender.drain() == 2
    await h.fake.wait_for(lambda: "is over" in pad.content)
    assert pad.buttons == []
    assert (await h.fake.next_message(ALICE)).content.startswith("Call with 5551234 ended")
    stale = await h.fake.press(ALICE, pad, f"c:key:{call.id}:1", forged=True)
    assert stale.show_alert


async def test_outbox_speaks_each_persons_language_and_survives_blocks(
    h: Harness, tmp_path: Path
) -> None:
    await h.command(CAROL, "/start")
    h.fake.skip_messages(CAROL)
    line = await h.new_account(CAROL)
    call, _ = await calls.start_incoming(h.deps, line, "<b>+7</b>", WORKER)
    await outbox.tell(h.deps, call, "call.incoming", caller="@telesip_caller")
    sender = Outbox(h.deps, h.bot, tmp_path)
    await sender.drain()
    note = await h.fake.next_message(CAROL)
    assert note.content.startswith("📞 Входящий звонок с <b>+7</b> на SIP-аккаунт")  # shown as text
    # a recording reaches the owner as a document; a person who blocked the bot is skipped
    (tmp_path / "call-1.wav").write_bytes(b"RIFF....WAVE")
    await calls.mark_ended(h.deps, call.id, EndReason.COMPLETED, recording="call-1.wav")
    await outbox.send_recording(h.deps, call, "call-1.wav")
    h.fake.block_bot(CAROL)
    await sender.drain()
    assert await outbox.due(h.deps) == []
    h.fake.unblock_bot(CAROL)
    await outbox.send_recording(h.deps, call, "call-1.wav")
    await sender.drain()
    doc = await h.fake.next_message(CAROL)
    assert "Запись разговора" in doc.content
