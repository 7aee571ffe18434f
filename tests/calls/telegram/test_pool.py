"""CallerPool: one call per caller account, sticky per person, clear when none is free."""

from __future__ import annotations

import pytest

from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.errors import NoFreeCaller
from telesip.calls.telegram.pool import CallerPool
from tests.fakes.telegram_calls import FakeTelegram


@pytest.fixture
def tg() -> FakeTelegram:
    return FakeTelegram()


def test_each_account_takes_one_call_at_a_time(tg: FakeTelegram) -> None:
    a, b = tg.account(TgUser(1, "A")), tg.account(TgUser(2, "B"))
    pool = CallerPool([a, b])
    first = pool.acquire(1001)
    second = pool.acquire(1002)
    assert {first.me.id, second.me.id} == {1, 2} and pool.free == 0
    with pytest.raises(NoFreeCaller, match="all 2 caller account"):
        pool.acquire(1003)
    pool.release(first)
    assert pool.acquire(1003) is first


def test_an_empty_pool_says_how_to_add_an_account() -> None:
    with pytest.raises(NoFreeCaller, match="telesip telegram login") as caught:
        CallerPool().acquire(1001)
    assert caught.value.code == "no_free_caller"


def test_a_person_is_called_by_the_same_account_when_it_is_free(tg: FakeTelegram) -> None:
    a, b, c = (tg.account(TgUser(i, str(i))) for i in (1, 2, 3))
    pool = CallerPool([a, b, c])
    with pool.take(1001) as calls:
        assert calls is a
    with pool.take(1002) as calls:
        assert calls is b  # a was used more recently
    assert pool.caller_for(1001) is a
    with pool.take(1002) as busy, pool.take(1001) as calls:
        assert busy is b and calls is a
    with pool.take(1001) as held, pool.take(1002) as calls:
        assert held is a and calls is b
        assert pool.caller_for(1003) is c


def test_take_releases_on_error(tg: FakeTelegram) -> None:
    pool = CallerPool([tg.account(1)])
    with pytest.raises(RuntimeError), pool.take(1001):
        raise RuntimeError("call failed")
    assert pool.free == 1


def test_remove_and_add(tg: FakeTelegram) -> None:
    a = tg.account(1)
    pool = CallerPool([a])
    held = pool.acquire(1001)
    pool.remove(1)
    pool.release(held)  # a call ending on a removed account is fine
    assert pool.accounts == [] and pool.caller_for(1001) is None
    pool.add(a)
    assert pool.acquire(1001) is a
