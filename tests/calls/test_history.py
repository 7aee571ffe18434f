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
from telesip.services import accounts, audit, calls, offers, outbox
from telesip.services.dependencies import Dependencies
from tests.core.helpers import ALICE, BOB, CAROL, sip

WORKER = 7


@pytest.fixture
def deps(services: Dependencies) -> Dependencies:
    return services


async def _line(deps: Dependencies, *, assign_to: int | None = None, **kw: object) -> int:
    account_id = await accounts.create_account(deps, ALICE, sip(**kw))  # type: ignore[arg-type]
    if assign_to is not None:
        offer = await offers.create_offer(deps, ALICE, account_id, Method.ASSIGN)
        person = {BOB.id: BOB, CAROL.id: CAROL}[assign_to]
        await offers.receive(deps, person, offer.id)
    return account_id


async def _outbox(deps: Dependencies) -> list[tuple[int, str, dict[str, object]]]:
    return [(m.chat_id, m.kind, m.payload) for m in await outbox.due(deps, limit=100)]


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


async def test_the_user_of_a_line_dials_through_it_with_rewrite_rules(deps: Dependencies) -> None:
    line = await _line(deps, assign_to=BOB.id, rewrite_rules=(("8(\\d{10})", "+7\\1"),))
    assert [x.account_id for x in await calls.lines(deps, BOB)] == [line]
    assert (await calls.only_line(deps, BOB)).account_id == line  # type: ignore[union-attr]
    call = await calls.request_call(deps, BOB, "8 (495) 123-45-67", line)
    assert (call.direction, call.state, call.number, call.user_id, call.owner_id) == (
        Direction.OUT,
        CallState.REQUESTED,
        "+74951234567",
        BOB.id,
        ALICE.id,
    )
    # the owner gave the line away: it is not theirs to call from (R5 the other way round)
    with pytest.raises(NotYourLine):
        await calls.request_call(deps, ALICE, "101", line)
    with pytest.raises(NoLines):
        await calls.only_line(deps, CAROL)
    # one call at a time per person
    with pytest.raises(LineBusy):
        await calls.request_call(deps, BOB, "102", line)
    records = await audit.account_audit(deps, ALICE, line)
    assert records[0].action == "call_requested"
    assert records[0].details["number"] == "+74951234567"


async def test_bad_input_changes_nothing(deps: Dependencies) -> None:
    line = await _line(deps)
    with pytest.raises(NotAPhoneNumber):
        await calls.request_call(deps, ALICE, "call me maybe", line)
    with pytest.raises(errors.AccountNotFound):
        await calls.request_call(deps, ALICE, "101", line + 100)
    await accounts.set_enabled(deps, ALICE, line, False)
    with pytest.raises(LineDisabled):
        await calls.request_call(deps, ALICE, "101", line)
    assert await calls.recent_calls(deps, ALICE) == []


async def test_a_request_is_claimed_by_one_worker_once(deps: Dependencies) -> None:
    line = await _line(deps)
    call = await calls.request_call(deps, ALICE, "101", line)
    assert await calls.claim_outgoing(deps, WORKER, [line + 1]) == []  # not its line
    first, second = await asyncio.gather(
        calls.claim_outgoing(deps, WORKER, [line]), calls.claim_outgoing(deps, WORKER + 1, [line])
    )
    claimed = first + second
    assert [c.id for c in claimed] == [call.id]
    assert claimed[0].state is CallState.RINGING
    assert claimed[0].worker_id in (WORKER, WORKER + 1)


async def test_requests_nobody_takes_end_and_the_person_is_told(
    deps: Dependencies, clock: FakeClock
) -> None:
    line = await _line(deps)
    call = await calls.request_call(deps, ALICE, "101", line)
    clock.advance(61)
    assert await calls.claim_outgoing(deps, WORKER, []) == []
    (ended,) = await calls.recent_calls(deps, ALICE)
    assert (ended.id, ended.state, ended.end_reason) == (
        call.id,
        CallState.ENDED,
        EndReason.UNAVAILABLE,
    )
    assert (ALICE.id, "text", {"key": "call.unavailable", "params": {}}) in await _outbox(deps)


async def test_keys_hold_and_hang_up_reach_the_worker_once(
    deps: Dependencies, clock: FakeClock
) -> None:
    line = await _line(deps, assign_to=BOB.id)
    call = await calls.request_call(deps, BOB, "101", line)
    await calls.claim_outgoing(deps, WORKER, [line])
    with pytest.raises(CallNotFound):  # not answered yet: no keypad
        await calls.press_key(deps, BOB, call.id, "1")
    with pytest.raises(CallNotFound):  # nor hold
        await calls.hold(deps, BOB, call.id, on=True)
    assert await calls.mark_answered(deps, call.id, "caller-1")
    await calls.press_key(deps, BOB, call.id, "5")
    await calls.hold(deps, BOB, call.id, on=True)
    await calls.hold(deps, BOB, call.id, on=False)
    await calls.press_key(deps, BOB, call.id, "#")
    with pytest.raises(errors.InvalidInput):
        await calls.press_key(deps, BOB, call.id, "x")
    with pytest.raises(CallNotFound):  # somebody else's call
        await calls.press_key(deps, ALICE, call.id, "1")
    with pytest.raises(CallNotFound):
        await calls.hold(deps, ALICE, call.id, on=True)
    await calls.hang_up(deps, BOB, call.id)
    cmds = await calls.take_commands(deps, [call.id])
    assert [(c.kind, c.arg) for c in cmds] == [
        (CommandKind.DTMF, "5"),
        (CommandKind.HOLD, ""),
        (CommandKind.RESUME, ""),
        (CommandKind.DTMF, "#"),
        (CommandKind.HANGUP, ""),
    ]
    assert await calls.take_commands(deps, [call.id]) == []
    clock.advance(30)
    ended = await calls.mark_ended(deps, call.id, EndReason.COMPLETED, tell="call.ended")
    assert ended is not None and ended.duration == 30
    assert await calls.mark_ended(deps, call.id, EndReason.FAILED) is None  # once only
    box = await _outbox(deps)
    assert (BOB.id, "drop_keypad", {"call_id": call.id}) in box
    assert [p["params"]["duration"] for _, k, p in box if k == "text"] == [30]  # type: ignore[index]
    (record,) = [
        r for r in await audit.account_audit(deps, ALICE, line) if r.action == "call_ended"
    ]
    assert record.details["reason"] == "completed" and record.details["duration"] == 30


async def test_hanging_up_a_request_ends_it_at_once(deps: Dependencies) -> None:
    line = await _line(deps)
    call = await calls.request_call(deps, ALICE, "101", line)
    await calls.hang_up(deps, ALICE, call.id)
    assert (await calls.get_call(deps, call.id)).end_reason is EndReason.CANCELLED
    assert await calls.claim_outgoing(deps, WORKER, [line]) == []
    with pytest.raises(CallNotFound):
        await calls.hang_up(deps, ALICE, call.id)


async def test_incoming_calls_are_recorded_with_their_fate(deps: Dependencies) -> None:
    line = await _line(deps, assign_to=BOB.id)
    ringing, account = await calls.start_incoming(deps, line, "+15550001", WORKER)
    assert ringing.state is CallState.RINGING and ringing.user_id == BOB.id
    assert account.id == line
    # Bob is in that call: a second one on any of his lines finds him busy
    busy, _ = await calls.start_incoming(deps, line, "+15550002", WORKER)
    assert (busy.state, busy.end_reason) == (CallState.ENDED, EndReason.BUSY)
    assert any(k == "text" and p["key"] == "call.missed_busy" for _, k, p in await _outbox(deps))
    await calls.mark_ended(deps, ringing.id, EndReason.MISSED, tell="call.missed")
    await accounts.set_enabled(deps, ALICE, line, False)
    off, _ = await calls.start_incoming(deps, line, "+15550003", WORKER)
    assert off.end_reason is EndReason.UNAVAILABLE
    history = await calls.recent_calls(deps, BOB)
    assert [c.number for c in history] == ["+15550003", "+15550002", "+15550001"]
    assert [c.id for c in await calls.recent_calls(deps, ALICE)] == [c.id for c in history]
    with pytest.raises(errors.AccountNotFound):
        await calls.start_incoming(deps, line + 50, "1", WORKER)


async def test_a_restarted_worker_ends_what_it_left_open(deps: Dependencies) -> None:
    line = await _line(deps)
    call, _ = await calls.start_incoming(deps, line, "555", WORKER)
    other_line = await _line(deps, login="200", assign_to=BOB.id)
    other, _ = await calls.start_incoming(deps, other_line, "556", WORKER + 1)
    assert await calls.end_orphans(deps, WORKER) == 1
    assert (await calls.get_call(deps, call.id)).state is CallState.ENDED
    assert (await calls.get_call(deps, other.id)).state is CallState.RINGING


async def test_outbox_is_sent_once_and_retried_later(deps: Dependencies, clock: FakeClock) -> None:
    line = await _line(deps)
    call, _ = await calls.start_incoming(deps, line, "555", WORKER)
    await outbox.tell(deps, call, "call.incoming")
    await outbox.show_keypad(deps, call)
    first, keypad = await outbox.due(deps)
    assert first.payload["key"] == "call.incoming" and keypad.kind == "keypad"
    await outbox.retry(deps, first.id, 5)
    assert [m.id for m in await outbox.due(deps)] == [keypad.id]
    assert await outbox.sent(deps, keypad.id, 4242)
    assert not await outbox.sent(deps, keypad.id, 4242)
    assert await outbox.keypad_of(deps, ALICE.id, call.id) == 4242
    clock.advance(6)
    (again,) = await outbox.due(deps)
    assert again.id == first.id and again.attempts == 1
