"""The card's view is made once per card (``views.cards._card``, cached by everything the card
shows): for every combination of what it shows, the card the bot gets is the one made afresh,
and changing any one of those things gives the card made for the new value."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, cast

import pytest

from telesip.bot import views
from telesip.bot.setup import set_current_inline
from telesip.bot.views import cards
from telesip.domain.model import Payer, Role
from telesip.domain.readmodels import AccountSummary
from telesip.services.accounts import Card

BASE = AccountSummary(
    id=7,
    owner_id=1001,
    user_id=1001,
    owner_label="Alice <a>",
    user_label="Alice <a>",
    login="101",
    domain="pbx.example.com",
    transport="udp",
    port=5060,
    enabled=True,
    payer=Payer.OWNER_PLAN,
    via_link=False,
    duplicate=False,
    reg_state="registered",
    reg_code=None,
    reg_error=None,
    worker=None,
)

SUMMARIES = [
    BASE,
    BASE._replace(user_id=1002, user_label="Bob"),
    BASE._replace(enabled=False),
    BASE._replace(reg_state="auth_failed", reg_code=403, reg_error="Forbidden"),
    BASE._replace(reg_state="registering"),
    BASE._replace(duplicate=True, enabled=False, reg_error="connected elsewhere"),
    BASE._replace(payer=Payer.START, port=None, transport="tls", login="a&b"),
]
PENDING: Any = object()  # the card asks only whether there is one


@pytest.fixture(autouse=True)
def _inline_as_it_was() -> Iterator[None]:
    yield
    set_current_inline(True)  # its default: later tests in this thread see it


def _made_afresh(lang: str, c: Card, inline: bool) -> tuple[str, Any]:
    pending = c.pending_offer is not None
    made: tuple[str, Any] = cards._card.__wrapped__(  # type: ignore[attr-defined]
        lang, c.summary, c.role, c.recording, tuple(c.firewall), pending, inline
    )
    return made


def _shown(text: str, kb: Any) -> tuple[str, Any]:
    return text, kb.model_dump()


FIREWALLS = ([], ["udp:203.0.113.5:5060"], ["udp:203.0.113.5:5060", "rtp:198.51.100.1:20000-20999"])


def _every_card() -> Any:
    return itertools.product(
        SUMMARIES,
        (Role.OWNER, Role.USER),
        (False, True),  # recording
        FIREWALLS,
        (None, PENDING),
        (True, False),  # inline mode
    )


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_cached_card_is_the_card_made_afresh(lang: str) -> None:
    cards._card.cache_clear()
    for _ in range(2):  # the second time from the cache
        for summary, role, recording, firewall, pending, inline in _every_card():
            c = Card(summary, role, None, cast(Any, pending), list(firewall), recording)
            set_current_inline(inline)
            assert _shown(*views.card(lang, c)) == _shown(*_made_afresh(lang, c, inline))
    assert cards._card.cache_info().hits > 0


def test_each_thing_the_owner_card_shows_changes_it() -> None:
    """None of them is left out of the cache's key: changing one gives another card."""
    cards._card.cache_clear()
    base = Card(BASE, Role.OWNER, None, None, [], False)
    variants = [
        base,
        Card(BASE._replace(reg_state="registering"), Role.OWNER, None, None, [], False),
        Card(BASE, Role.USER, None, None, [], False),
        Card(BASE, Role.OWNER, None, None, list(FIREWALLS[1]), False),
        Card(BASE, Role.OWNER, None, cast(Any, PENDING), [], False),
        Card(BASE, Role.OWNER, None, None, [], True),
    ]
    shown = []
    for c in variants:
        set_current_inline(True)
        shown.append(repr(_shown(*views.card("en", c))))
    set_current_inline(False)
    shown.append(repr(_shown(*views.card("en", base))))
    shown.append(repr(_shown(*views.card("ru", base))))
    assert len(set(shown)) == len(shown)
