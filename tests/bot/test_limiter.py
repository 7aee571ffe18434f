"""The limiter's pacing is bounded inside update handling: a handler never waits longer than
``max_handler_wait`` for its chat (so the bounded handling's slots cannot all be held by one
person flooding the bot); a notification, sent outside an update, waits its turn."""

from __future__ import annotations

import pytest

from telesip.bot.limiter import Flooded, RateLimiter, handling_update


def test_a_handler_is_refused_a_long_wait_and_the_turn_is_kept() -> None:
    limiter = RateLimiter(per_chat_per_second=1, per_chat_burst=2, max_handler_wait=1.5)
    with handling_update():
        assert limiter._delay(7) == 0  # the burst
        assert limiter._delay(7) == 0
        assert 0.9 < limiter._delay(7) <= 1.0  # one second: waits
        with pytest.raises(Flooded):
            limiter._delay(7)  # two seconds: refused
        with pytest.raises(Flooded):
            limiter._delay(7)  # still two: the refused turn was not used up
        assert limiter._delay(8) == 0  # other people are not held up


def test_outside_an_update_a_call_waits_its_turn() -> None:
    limiter = RateLimiter(per_chat_per_second=1, per_chat_burst=1, max_handler_wait=0.5)
    assert limiter._delay(7) == 0
    assert 0.9 < limiter._delay(7) <= 1.0
    assert 1.9 < limiter._delay(7) <= 2.0
