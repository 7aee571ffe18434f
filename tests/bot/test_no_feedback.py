"""Transfers when Telegram does not report chosen inline results (inline feedback off): the
first Receive press makes the offer from the signed draft on the button."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from telesip.bot import drafts
from telesip.domain.model import Method
from telesip.services import accounts
from tests.bot.conftest import ALICE, BOB, CAROL, MALLORY, Harness, tg
from tests.fakes import FakeBotAPI, FakeInlineMessage


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(bot_username="telesip_test_bot", inline_feedback=False) as server:
        yield server


async def offer_message(h: Harness, account_id: int, method: str) -> FakeInlineMessage:
    card = h.fake.last_message(ALICE)
    answer = await h.fake.inline_query_from_button(ALICE, card, "Transfer")
    return h.fake.choose_inline_result(ALICE, answer, f"{method}:{account_id}", into_chat_with=BOB)


@pytest.mark.both_backends
async def test_receive_without_feedback(h: Harness) -> None:
    fake = h.fake
    await h.command(BOB, "/start")
    account_id = await h.new_account(ALICE)
    msg = await offer_message(h, account_id, "unlink")
    receive = msg.callback_data("Receive")
    assert receive.startswith("r:") and len(receive.encode()) <= 64
    own = await fake.press_inline(ALICE, msg, receive)
    assert own.show_alert and "your own offer" in (own.text or "")
    await fake.press_inline(BOB, msg, receive)
    await fake.wait_for(lambda: "it is now theirs" in msg.content)
    again = await fake.press_inline(CAROL, msg, receive, forged=True)  # a stale client
    assert again.show_alert and "уже получено" in (again.text or "")
    assert [a.id for a in (await accounts.softphone(h.deps, tg(BOB))).owned] == [account_id]


async def test_draft_expires_and_older_drafts_lose(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    old = await offer_message(h, account_id, "assign")
    h.clock.advance(301)
    late = await fake.press_inline_button(BOB, old, "Receive")
    assert late.show_alert and "expired" in (late.text or "")
    first = await offer_message(h, account_id, "assign")
    h.clock.advance(10)
    second = await offer_message(h, account_id, "assign")
    await fake.press_inline_button(BOB, second, "Receive")
    await fake.wait_for(lambda: "received" in second.content)
    lost = await fake.press_inline_button(MALLORY, first, "Receive")
    assert lost.show_alert and "replaced" in (lost.text or "")
    card = await accounts.get_card(h.deps, tg(ALICE), account_id)
    assert card.summary.user_id == BOB.id


async def test_forged_and_altered_drafts_are_refused(h: Harness) -> None:
    fake = h.fake
    account_id = await h.new_account(ALICE)
    msg = await offer_message(h, account_id, "assign")
    token = msg.callback_data("Receive").removeprefix("r:")
    draft = drafts.read(h.deps, token)
    assert (draft.account_id, draft.sender_id, draft.method) == (
        account_id,
        ALICE.id,
        Method.ASSIGN,
    )
    forged = drafts.Draft(account_id, ALICE.id, draft.issued_at, Method.UNLINK)
    bad = drafts.make(h.deps, forged)[:-4] + "AAAA"  # a client cannot sign
    answer = await fake.press_inline(BOB, msg, f"r:{bad}", forged=True)
    assert answer.show_alert and answer.text == "This offer does not exist."
    assert (await accounts.get_card(h.deps, tg(ALICE), account_id)).summary.user_id == ALICE.id
