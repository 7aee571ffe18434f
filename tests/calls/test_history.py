"""Calls' use cases on both backends: dialling, commands, the history and the bot's outbox."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telesip.domain import errors
from telesip.domain.calls import (
    CallState,
    CommandKind,
    Direction,
    EndReason,
    looks_like_number,
    parse_number,
    rewrite_number,
)
from telesip.domain.clock import FakeClock
from telesip.domain.errors import (
    CallNotFound,
    LineBusy,
    LineDisabled,
    NoLines,
    NotAPhoneNumber,
    NotYourLine,
)
from telesip.domain.model import Method
from telesip.services import accounts, audit, calls, offers
from telesip.services.context import Services
from tests.core.helpers import ALICE, BOB, CAROL, sip

WORKER = 7


@pytest.fixture
def s(services: Services) -> Services:
    return services


async def _line(s: Services, *, assign_to: int | None = None, **kw: object) -> int:
    account_id = await accounts.create_account(s, ALICE, sip(**kw))  # type: ignore[arg-type]
    if assign_to is not None:
        offer = await offers.create_offer(s, ALICE, account_id, Method.ASSIGN)
        person = {BOB.id: BOB, CAROL.id: CAROL}[assign_to]
        await offers.receive(s, person, offer.id)
    return account_id


async def _outbox(s: Services) -> list[tuple[int, str, dict[str, object]]]:
    return [(m.chat_id, m.kind, m.payload) for m in await calls.outbox_due(s, limit=100)]


def test_numbers_people_type() -> None:
    assert parse_number("+7 (495) 123-45-67") == "+74951234567"
    assert parse_number("tel:*100#") == "*100#"
    assert parse_number(" 101 ") == "101"
    for bad in ("", "abc", "++1", "12a", "1" * 33, "x" * 100, "+", "1+2"):
        with pytest.raises(NotAPhoneNumber):
            parse_number(bad)
    assert looks_like_number("8 800 555 35 35")
    assert not looks_like_number("hello") and not looks_like_number("5")


def test_rewrite_rules_first_full_match_wins() -> None:
    rules = (("8(\\d{10})", "+7\\1"), ("(\\d{3})", "sip-\\1"), ("\\d+", "never"))
    assert rewrite_number("84951234567", rules) == "+74951234567"
    assert rewrite_number("101", rules) == "sip-101"
    assert rewrite_number("+44", rules) == "+44"  # nothing matches: unchanged
    assert (
        rewrite_number("123", (("(\\d)", "\\2"), ("123", "ok"))) == "ok"
    )  # a broken rule is skipped


@given(st.text(max_size=40))
def test_parse_number_accepts_or_says_why(text: str) -> None:
    try:
        number = parse_number(text)
    except NotAPhoneNumber as exc:
        assert exc.code == "not_a_phone_number"
    else:
        assert number and len(number) <= 33
        assert set(number.lstrip("+")) <= set("0123456789*#")


async def test_the_user_of_a_line_dials_through_it_with_rewrite_rules(s: Services) -> None:
    line = await _line(s, assign_to=BOB.id, rewrite_rules=(("8(\\d{10})", "+7\\1"),))
    assert [x.account_id for x in await calls.lines(s, BOB)] == [line]
    assert (await calls.only_line(s, BOB)).account_id == line  # type: ignore[union-attr]
    call = await calls.request_call(s, BOB, "8 (495) 123-45-67", line)
    assert (call.direction, call.state, call.number, call.user_id, call.owner_id) == (
        Direction.OUT,
        CallState.REQUESTED,
        "+74951234567",
        BOB.id,
        ALICE.id,
    )
    # the owner gave the line away: it is not theirs to call from (R5 the other way round)
    with pytest.raises(NotYourLine):
        await calls.request_call(s, ALICE, "101", line)
    with pytest.raises(NoLines):
        await calls.only_line(s, CAROL)
    # one call at a time per person
    with pytest.raises(LineBusy):
        await calls.request_call(s, BOB, "102", line)
    records = await audit.account_audit(s, ALICE, line)
    assert records[0].action == "call_requested"
    assert records[0].details["number"] == "+74951234567"


async def test_bad_input_changes_nothing(s: Services) -> None:
    line = await _line(s)
    with pytest.raises(NotAPhoneNumber):
        await calls.request_call(s, ALICE, "call me maybe", line)
    with pytest.raises(errors.AccountNotFound):
        await calls.request_call(s, ALICE, "101", line + 100)
    await accounts.set_enabled(s, ALICE, line, False)
    with pytest.raises(LineDisabled):
        await calls.request_call(s, ALICE, "101", line)
    assert await calls.recent_calls(s, ALICE) == []


async def test_a_request_is_claimed_by_one_worker_once(s: Services) -> None:
    line = await _line(s)
    call = await calls.request_call(s, ALICE, "101", line)
    assert await calls.claim_outgoing(s, WORKER, [line + 1]) == []  # not its line
    first, second = await asyncio.gather(
        calls.claim_outgoing(s, WORKER, [line]), calls.claim_outgoing(s, WORKER + 1, [line])
    )
    claimed = first + second
    assert [c.id for c in claimed] == [call.id]
    assert claimed[0].state is CallState.RINGING
    assert claimed[0].worker_id in (WORKER, WORKER + 1)


async def test_requests_nobody_takes_end_and_the_person_is_told(
    s: Services, clock: FakeClock
) -> None:
    line = await _line(s)
    call = await calls.request_call(s, ALICE, "101", line)
    clock.advance(61)
    assert await calls.claim_outgoing(s, WORKER, []) == []
    (ended,) = await calls.recent_calls(s, ALICE)
    assert (ended.id, ended.state, ended.end_reason) == (
        call.id,
        CallState.ENDED,
        EndReason.UNAVAILABLE,
    )
    assert (ALICE.id, "text", {"key": "call.unavailable", "params": {}}) in await _outbox(s)


async def test_keys_hold_and_hang_up_reach_the_worker_once(s: Services, clock: FakeClock) -> None:
    line = await _line(s, assign_to=BOB.id)
    call = await calls.request_call(s, BOB, "101", line)
    await calls.claim_outgoing(s, WORKER, [line])
    with pytest.raises(CallNotFound):  # not answered yet: no keypad
        await calls.press_key(s, BOB, call.id, "1")
    with pytest.raises(CallNotFound):  # nor hold
        await calls.hold(s, BOB, call.id, on=True)
    assert await calls.mark_answered(s, call.id, "caller-1")
    await calls.press_key(s, BOB, call.id, "5")
    await calls.hold(s, BOB, call.id, on=True)
    await calls.hold(s, BOB, call.id, on=False)
    await calls.press_key(s, BOB, call.id, "#")
    with pytest.raises(errors.InvalidInput):
        await calls.press_key(s, BOB, call.id, "x")
    with pytest.raises(CallNotFound):  # somebody else's call
        await calls.press_key(s, ALICE, call.id, "1")
    with pytest.raises(CallNotFound):
        await calls.hold(s, ALICE, call.id, on=True)
    await calls.hang_up(s, BOB, call.id)
    cmds = await calls.take_commands(s, [call.id])
    assert [(c.kind, c.arg) for c in cmds] == [
        (CommandKind.DTMF, "5"),
        (CommandKind.HOLD, ""),
        (CommandKind.RESUME, ""),
        (CommandKind.DTMF, "#"),
        (CommandKind.HANGUP, ""),
    ]
    assert await calls.take_commands(s, [call.id]) == []
    clock.advance(30)
    ended = await calls.mark_ended(s, call.id, EndReason.COMPLETED, tell="call.ended")
    assert ended is not None and ended.duration == 30
    assert await calls.mark_ended(s, call.id, EndReason.FAILED) is None  # once only
    box = await _outbox(s)
    assert (BOB.id, "drop_keypad", {"call_id": call.id}) in box
    assert [p["params"]["duration"] for _, k, p in box if k == "text"] == [30]  # type: ignore[index]
    (record,) = [r for r in await audit.account_audit(s, ALICE, line) if r.action == "call_ended"]
    assert record.details["reason"] == "completed" and record.details["duration"] == 30


async def test_hanging_up_a_request_ends_it_at_once(s: Services) -> None:
    line = await _line(s)
    call = await calls.request_call(s, ALICE, "101", line)
    await calls.hang_up(s, ALICE, call.id)
    assert (await calls.get_call(s, call.id)).end_reason is EndReason.CANCELLED
    assert await calls.claim_outgoing(s, WORKER, [line]) == []
    with pytest.raises(CallNotFound):
        await calls.hang_up(s, ALICE, call.id)


async def test_incoming_calls_are_recorded_with_their_fate(s: Services) -> None:
    line = await _line(s, assign_to=BOB.id)
    ringing, account = await calls.start_incoming(s, line, "+15550001", WORKER)
    assert ringing.state is CallState.RINGING and ringing.user_id == BOB.id
    assert account.id == line
    # Bob is in that call: a second one on any of his lines finds him busy
    busy, _ = await calls.start_incoming(s, line, "+15550002", WORKER)
    assert (busy.state, busy.end_reason) == (CallState.ENDED, EndReason.BUSY)
    assert any(k == "text" and p["key"] == "call.missed_busy" for _, k, p in await _outbox(s))
    await calls.mark_ended(s, ringing.id, EndReason.MISSED, tell="call.missed")
    await accounts.set_enabled(s, ALICE, line, False)
    off, _ = await calls.start_incoming(s, line, "+15550003", WORKER)
    assert off.end_reason is EndReason.UNAVAILABLE
    history = await calls.recent_calls(s, BOB)
    assert [c.number for c in history] == ["+15550003", "+15550002", "+15550001"]
    assert [c.id for c in await calls.recent_calls(s, ALICE)] == [c.id for c in history]
    with pytest.raises(errors.AccountNotFound):
        await calls.start_incoming(s, line + 50, "1", WORKER)


async def test_a_restarted_worker_ends_what_it_left_open(s: Services) -> None:
    line = await _line(s)
    call, _ = await calls.start_incoming(s, line, "555", WORKER)
    other_line = await _line(s, login="200", assign_to=BOB.id)
    other, _ = await calls.start_incoming(s, other_line, "556", WORKER + 1)
    assert await calls.end_orphans(s, WORKER) == 1
    assert (await calls.get_call(s, call.id)).state is CallState.ENDED
    assert (await calls.get_call(s, other.id)).state is CallState.RINGING


async def test_outbox_is_sent_once_and_retried_later(s: Services, clock: FakeClock) -> None:
    line = await _line(s)
    call, _ = await calls.start_incoming(s, line, "555", WORKER)
    await calls.tell(s, call, "call.incoming")
    await calls.show_keypad(s, call)
    first, keypad = await calls.outbox_due(s)
    assert first.payload["key"] == "call.incoming" and keypad.kind == "keypad"
    await calls.outbox_retry(s, first.id, 5)
    assert [m.id for m in await calls.outbox_due(s)] == [keypad.id]
    assert await calls.outbox_sent(s, keypad.id, 4242)
    assert not await calls.outbox_sent(s, keypad.id, 4242)
    assert await calls.keypad_of(s, ALICE.id, call.id) == 4242
    clock.advance(6)
    (again,) = await calls.outbox_due(s)
    assert again.id == first.id and again.attempts == 1
