"""/help by role and language with the matching command menu (issue 17 item 2), and setup
mistakes caught at start (item 5): inline mode off in BotFather, descriptions per language."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator

import pytest

from telesip.bot.limiter import RateLimiter
from telesip.bot.setup import inline_mode
from telesip.domain.clock import FakeClock
from telesip.services import billing
from telesip.services.dependencies import Dependencies
from tests.bot.conftest import ALICE, BOB, CAROL, Harness, running_bot, tg
from tests.fakes import FakeBotAPI

EVERYONE = {"/softphone", "/calls", "/call", "/subscriptions", "/help"}
ADMIN = EVERYONE | {"/links", "/workers", "/unused", "/bulk"}


def _commands(text: str) -> set[str]:
    return set(re.findall(r"/[a-z]+", text))


def _menu(fake: FakeBotAPI, scope: dict[str, object], lang: str) -> set[str]:
    key = (json.dumps(scope, sort_keys=True), lang)
    return {"/" + c["command"] for c in fake.commands[key]}


async def test_help_for_an_administrator_lists_everything_and_sets_their_menu(h: Harness) -> None:
    reply = await h.command(ALICE, "/help")
    text = reply.content
    assert _commands(text) == ADMIN
    for words in ("phone number", "/call NUMBER", "keypad", "Transfer", "Receive", "QR code"):
        assert words in text, words
    chat_menu = await h.fake.wait_for(
        lambda: h.fake.commands.get((json.dumps({"chat_id": ALICE.id, "type": "chat"}), "")),
        what="the administrator's menu",
    )
    assert {"/" + c["command"] for c in chat_menu} == ADMIN


async def test_help_for_an_employee_in_russian_matches_the_default_menu(h: Harness) -> None:
    await h.command(CAROL, "/start")
    await billing.set_subscription(h.deps, tg(CAROL), "free")
    reply = await h.command(CAROL, "/help")
    assert "Пришлите номер телефона" in reply.content and "Администратор" not in reply.content
    assert _commands(reply.content) == EVERYONE == _menu(h.fake, {"type": "default"}, "ru")
    assert _menu(h.fake, {"type": "default"}, "") == EVERYONE  # English is the default
    ru = h.fake.commands[(json.dumps({"type": "default"}), "ru")]
    assert {c["command"]: c["description"] for c in ru}["call"] == "Позвонить на номер"


async def test_help_in_english_for_an_employee(h: Harness) -> None:
    await h.command(BOB, "/start")
    await billing.set_subscription(h.deps, tg(BOB), "free")
    reply = await h.command(BOB, "/help")
    assert _commands(reply.content) == EVERYONE
    assert "Administrator" not in reply.content


async def test_descriptions_are_set_per_language(h: Harness) -> None:
    settings = h.fake.settings_by_lang
    for lang, words in (("", "phone calls in Telegram"), ("en", "phone calls"), ("ru", "звонить")):
        assert words in settings[("setMyDescription", lang)]["description"]
        assert settings[("setMyShortDescription", lang)]["short_description"]
    assert (
        settings[("setMyDescription", "ru")]["description"]
        != settings[("setMyDescription", "en")]["description"]
    )


@pytest.fixture
async def no_inline(
    services: Dependencies, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Harness]:
    async with FakeBotAPI(bot_username="telesip_test_bot", supports_inline_queries=False) as fake:
        limiter = RateLimiter(overall_per_second=1000, per_chat_burst=1000)
        with caplog.at_level(logging.ERROR, logger="telesip.bot.setup"):
            async with running_bot(fake, services, clock, limiter) as harness:
                yield harness


async def test_inline_mode_off_is_logged_and_transfer_says_how_to_fix_it(
    no_inline: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = no_inline
    assert not (await inline_mode(h.bot)).inline_mode
    records = caplog.get_records("setup")  # logged when the bot started
    logged = [r.getMessage() for r in records if r.name == "telesip.bot.setup"]
    assert any("/setinline" in m and "@telesip_test_bot" in m for m in logged), logged
    account_id = await h.new_account(ALICE)
    card = await h.card(ALICE, account_id)
    transfer = await h.fake.wait_for(lambda: card.find_button("Transfer"), what="the card")
    assert "switch_inline_query_chosen_chat" not in transfer  # no dead inline query
    await h.fake.press_button(ALICE, card, "Transfer")
    told = await h.fake.next_message(ALICE)
    assert "inline mode" in told.content and "/setinline" in told.content
    assert "@telesip_test_bot" in told.content
    # in Russian for a Russian-speaking administrator
    carols = await h.new_account(CAROL)
    card = await h.card(CAROL, carols)
    await h.fake.wait_for(lambda: card.find_button("Передать"), what="the card")
    await h.fake.press_button(CAROL, card, "Передать")
    told = await h.fake.next_message(CAROL)
    assert "inline-режим" in told.content and "/setinline" in told.content


async def test_inline_mode_on_keeps_the_inline_transfer(h: Harness) -> None:
    assert (await inline_mode(h.bot)).inline_mode
    account_id = await h.new_account(ALICE)
    card = await h.card(ALICE, account_id)
    transfer = await h.fake.wait_for(lambda: card.find_button("Transfer"), what="the card")
    assert "switch_inline_query_chosen_chat" in transfer
