"""The ways into the Mini App: an owner's /softphone has "Open the table" and an
administrator's chat gets a menu button opening it, both only with TELESIP_PUBLIC_URL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from telesip.bot.limiter import RateLimiter
from telesip.domain.clock import FakeClock
from telesip.services import billing
from telesip.services.dependencies import Dependencies
from tests.bot.conftest import ALICE, BOB, Harness, running_bot, tg
from tests.fakes import FakeBotAPI

URL = "https://sip.example.com/miniapp/"


@pytest.fixture
async def with_url(
    fake: FakeBotAPI, services: Dependencies, clock: FakeClock
) -> AsyncIterator[Harness]:
    limiter = RateLimiter(overall_per_second=1000, per_chat_burst=1000, edit_burst=1000)
    async with running_bot(fake, services, clock, limiter, miniapp_url=URL) as harness:
        yield harness


async def test_softphone_offers_the_table_to_an_owner(with_url: Harness) -> None:
    h = with_url
    empty = await h.command(ALICE, "/softphone")
    assert empty.find_button("Open the table") is None  # nothing to show yet
    await h.new_account(ALICE)
    listing = await h.command(ALICE, "/softphone")
    assert listing.button("Open the table")["web_app"] == {"url": URL}


async def test_softphone_without_a_public_url_has_no_table_button(h: Harness) -> None:
    await h.new_account(ALICE)
    listing = await h.command(ALICE, "/softphone")
    assert listing.find_button("Open the table") is None
    await h.command(ALICE, "/help")
    assert h.fake.calls("setChatMenuButton") == []


async def test_softphone_menu_button_for_administrators_only(with_url: Harness) -> None:
    h = with_url
    await h.command(ALICE, "/help")
    sent = await h.fake.wait_for(lambda: h.fake.calls("setChatMenuButton"), what="menu button")
    params = sent[0].params
    assert params["chat_id"] == ALICE.id
    button = params["menu_button"]
    button = json.loads(button) if isinstance(button, str) else button
    assert button == {"type": "web_app", "text": "Accounts", "web_app": {"url": URL}}
    await billing.set_subscription(h.deps, tg(BOB), "free")  # an employee: no table of his own
    await h.command(BOB, "/help")
    assert [c.params["chat_id"] for c in h.fake.calls("setChatMenuButton")] == [ALICE.id]
