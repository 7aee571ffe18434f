"""The caller accounts a worker runs with: every stored session connected into the pool, a
failing one logged in one line and skipped, a dropped one out of the pool and back after a
backoff; recorded for the bot. A fake ``connect`` and a fake sleep: no network, no waiting."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from telesip.calls.telegram.adapter import TelegramCalls, TgUser
from telesip.calls.telegram.errors import CallerUnavailable, SessionRevoked
from telesip.calls.telegram.runtime import Backoff, open_callers
from telesip.calls.telegram.sessions import CallerAccount, SessionStore
from telesip.config import Settings
from telesip.domain.settings import Secret
from telesip.services.callers import caller_accounts, caller_info, record_caller
from telesip.services.dependencies import Dependencies
from telesip.store.crypto import Cipher
from tests.fakes.telegram_calls import FakeCalls, FakeTelegram

KEY = "test-key-material"
CALLS = TgUser(501, "Telesip", "Calls", "telesip_calls", "79161234567")
SECOND = TgUser(502, "Second", phone="15550100000")


def session_of(phone: str) -> str:
    return f"1BVSECRET-SESSION-{phone}"


def settings(data_dir: Path, *, api: bool = False) -> Settings:
    return Settings(
        data_dir=data_dir,
        secret_key=KEY,
        tg_api_id=12345 if api else None,
        tg_api_hash="0123456789abcdef" if api else None,
    )


def save(data_dir: Path, phone: str, user: TgUser, key: str = KEY) -> None:
    SessionStore(data_dir, Cipher(key)).save(CallerAccount(phone, user, Secret(session_of(phone))))


class FakeCaller(FakeCalls):
    """A caller account on the in-process Telegram, with a connection that can drop."""

    def __init__(self, server: FakeTelegram, user: TgUser) -> None:
        super().__init__(server, user)
        self._gone = asyncio.Event()
        self.closed = False

    def drop(self) -> None:
        self._gone.set()

    async def wait_disconnected(self) -> None:
        await self._gone.wait()

    async def aclose(self) -> None:
        self.closed = True
        self._gone.set()


class FakeNet:
    """``connect``: per phone, the errors the next attempts raise, then a connection."""

    def __init__(self) -> None:
        self.server = FakeTelegram()
        self.failures: dict[str, list[Exception]] = {}
        self.attempts: list[str] = []
        self.conns: dict[str, FakeCaller] = {}

    async def connect(self, account: CallerAccount) -> FakeCaller:
        assert account.session.reveal() == session_of(account.phone)
        self.attempts.append(account.phone)
        if self.failures.get(account.phone):
            raise self.failures[account.phone].pop(0)
        self.conns[account.phone] = FakeCaller(self.server, account.user)
        return self.conns[account.phone]


class FakeSleep:
    """Records each backoff delay; returns at once while ``turns`` allow, else waits."""

    def __init__(self, turns: int = 1000) -> None:
        self.delays: list[float] = []
        self._turns = asyncio.Semaphore(turns)

    def allow(self, turns: int) -> None:
        for _ in range(turns):
            self._turns.release()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await self._turns.acquire()


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def ids(accounts: list[TelegramCalls]) -> list[int]:
    return sorted(a.me.id for a in accounts)


async def test_every_session_joins_the_pool_and_is_recorded_for_the_bot(
    tmp_path: Path, services: Dependencies, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    save(tmp_path, "79161234567", CALLS)
    save(tmp_path, "15550100000", SECOND)
    net = FakeNet()
    async with open_callers(settings(tmp_path), services, connect=net.connect) as pool:
        assert ids(pool.accounts) == [501, 502]
        with pool.take(1001) as caller:
            assert caller.me.id in (501, 502) and pool.free == 1
        rows = await caller_accounts(services)
        assert sorted((r.id, r.name, r.username, r.phone) for r in rows) == [
            (501, "Telesip Calls", "telesip_calls", "+7******4567"),
            (502, "Second", None, "+1******0000"),
        ]
        assert rows[0].label in ("@telesip_calls (Telesip Calls)", "Second")
    assert pool.accounts == []
    assert all(c.closed for c in net.conns.values())
    assert "caller account +7******4567 (@telesip_calls) connected" in caplog.text
    assert "79161234567" not in caplog.text and "SECRET-SESSION" not in caplog.text


async def test_a_session_that_fails_is_logged_in_one_line_and_the_others_still_work(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    save(tmp_path, "79161230001", TgUser(601, "Revoked"))
    save(tmp_path, "79161230002", TgUser(602, "Flaky"))
    save(tmp_path, "79161230003", TgUser(603, "Fine"))
    save(tmp_path, "79161230004", TgUser(604, "Other key"), key="another key")
    net = FakeNet()
    offline = "cannot reach Telegram (ConnectionError: Connection to Telegram failed 5 time(s))"
    net.failures = {
        "79161230001": [SessionRevoked()],
        "79161230002": [CallerUnavailable(reason=offline), CallerUnavailable(reason=offline)],
    }
    sleep = FakeSleep()
    backoff = Backoff(first=1, factor=2, cap=60)
    async with open_callers(
        settings(tmp_path), connect=net.connect, backoff=backoff, sleep=sleep
    ) as pool:
        await until(lambda: len(pool.accounts) == 2)
        assert ids(pool.accounts) == [602, 603]
        assert pool.acquire(1001).me.id in (602, 603)
    assert net.attempts.count("79161230001") == 1  # revoked: a retry cannot help
    assert net.attempts.count("79161230002") == 3 and sleep.delays == [1, 2]
    assert "79161230004" not in net.attempts  # unreadable: never tried
    lines = [r.getMessage() for r in caplog.records]
    assert all("\n" not in line for line in lines)
    assert (
        "caller account +7******0001 is not used: The caller account's session is no longer "
        "valid (revoked, logged out or banned): run `telesip telegram login` again."
    ) in lines
    assert (
        f"caller account +7******0002 cannot connect: The caller account cannot place calls "
        f"now: {offline}; retrying in 1 s"
    ) in lines
    assert any(
        line.startswith("caller account +7******0004 is skipped: ")
        and "cannot be decrypted" in line
        for line in lines
    )
    assert "SECRET-SESSION" not in caplog.text


async def test_a_dropped_account_leaves_the_pool_and_comes_back_after_a_backoff(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(tmp_path, "79161234567", CALLS)
    net = FakeNet()
    sleep = FakeSleep(turns=0)
    backoff = Backoff(first=1, factor=3, cap=5)
    async with open_callers(
        settings(tmp_path), connect=net.connect, backoff=backoff, sleep=sleep
    ) as pool:
        first = net.conns["79161234567"]
        assert pool.accounts == [first]
        net.failures["79161234567"] = [CallerUnavailable(reason="offline")] * 2
        first.drop()
        await until(lambda: sleep.delays == [1])
        assert pool.accounts == [] and first.closed  # no call takes a dead account
        assert "caller account +7******4567 (@telesip_calls) disconnected; reconnecting in 1 s" in (
            caplog.text
        )
        sleep.allow(3)
        await until(lambda: len(pool.accounts) == 1)
        second = net.conns["79161234567"]
        assert second is not first and pool.accounts == [second]
        assert sleep.delays == [1, 3, 5]  # growing, capped
        second.drop()  # a good connection resets the backoff
        await until(lambda: len(sleep.delays) == 4)
        assert sleep.delays[-1] == 1 and pool.accounts == []
    assert net.attempts == ["79161234567"] * 4


async def test_without_api_settings_or_sessions_the_pool_is_empty_and_says_how(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save(tmp_path, "79161234567", CALLS)
    async with open_callers(settings(tmp_path)) as pool:
        assert pool.accounts == []
    (record,) = caplog.records
    assert record.getMessage() == (
        "TELESIP_TG_API_ID/TELESIP_TG_API_HASH are not set: calls cannot ring anyone until a "
        "caller account is added with `telesip telegram login`"
    )
    caplog.clear()
    empty = tmp_path / "empty"
    async with open_callers(settings(empty, api=True)) as pool:
        assert pool.accounts == []
    (record,) = caplog.records
    assert record.getMessage().startswith("no caller account is logged in: calls cannot ring")


async def test_a_revoked_account_is_no_longer_named_by_the_bot(
    tmp_path: Path, services: Dependencies
) -> None:
    save(tmp_path, "79161234567", CALLS)
    await record_caller(services, caller_info(501, "Telesip Calls", "telesip_calls", None))
    net = FakeNet()
    net.failures["79161234567"] = [SessionRevoked()]
    async with open_callers(settings(tmp_path), services, connect=net.connect) as pool:
        assert pool.accounts == []
    assert await caller_accounts(services) == []


async def test_logins_and_logouts_are_noticed_while_the_worker_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    net = FakeNet()
    (tmp_path / "telegram").mkdir(mode=0o700)
    (tmp_path / "telegram" / "notes.session").write_text("not a caller account")
    async with open_callers(settings(tmp_path), connect=net.connect, rescan=0) as pool:
        assert pool.accounts == []
        save(tmp_path, "79161234567", CALLS)  # `telesip telegram login` meanwhile
        await until(lambda: ids(pool.accounts) == [501])
        first = net.conns["79161234567"]
        save(tmp_path, "79161234567", CALLS)  # logged in again: the new session is used
        os.utime(tmp_path / "telegram" / "79161234567.session", (1, 1))
        await until(lambda: net.conns["79161234567"] is not first and len(pool.accounts) == 1)
        assert first.closed
        SessionStore(tmp_path, Cipher(KEY)).delete("79161234567")  # `telesip telegram logout`
        await until(lambda: pool.accounts == [])
        assert net.conns["79161234567"].closed
    assert net.attempts == ["79161234567"] * 2
    assert "caller account +7******4567 was logged out: disconnecting it" in caplog.text
    assert (
        caplog.text.count("caller account notes.session is skipped") == 1
    )  # said once, not at every look
