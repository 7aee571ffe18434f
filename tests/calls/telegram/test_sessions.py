"""Caller-account sessions: encrypted files (0600 in a 0700 directory), login on a fake
Telethon client (no network), list and logout through the CLI; secrets never shown or logged."""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from telethon import errors as tg
from telethon.tl import types
from typer.testing import CliRunner

from telesip.bootstrap import services_for
from telesip.calls.telegram import sessions
from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.errors import SessionError
from telesip.calls.telegram.sessions import CallerAccount, SessionStore
from telesip.cli import app
from telesip.cli import telegram as telegram_cli
from telesip.config import Settings
from telesip.domain.settings import Secret
from telesip.services.callers import caller_accounts
from telesip.store.crypto import Cipher

SESSION = "1BVtsOKABuSECRETSESSIONSTRINGxyz"
CODE = "24680"
PASSWORD = "hunter2-2fa"
KEY = "test-key-material"


class FakeTelegramLogin:
    """Telegram's login as a fake client sees it: one code, an optional 2FA password."""

    def __init__(self, *, password: str | None = None, bad_phone: bool = False) -> None:
        self.password = password
        self.bad_phone = bad_phone
        self.codes_sent: list[str] = []
        self.logged_out: list[str] = []
        self.connected = 0

    def factory(self, session: str) -> FakeLoginClient:
        return FakeLoginClient(self, session)


class FakeLoginClient:
    def __init__(self, world: FakeTelegramLogin, session: str) -> None:
        self.world = world
        self.session = session
        self.signed_in = bool(session)
        self.awaiting_password = False

    async def connect(self) -> None:
        self.world.connected += 1

    async def disconnect(self) -> None:
        self.world.connected -= 1

    async def send_code_request(self, phone: str) -> Any:
        if self.world.bad_phone:
            raise tg.PhoneNumberInvalidError(request=None)
        self.world.codes_sent.append(phone)
        return object()

    async def sign_in(
        self, phone: str | None = None, code: str | None = None, *, password: str | None = None
    ) -> Any:
        if password is not None:
            if not self.awaiting_password or password != self.world.password:
                raise tg.PasswordHashInvalidError(request=None)
        elif code != CODE:
            raise tg.PhoneCodeInvalidError(request=None)
        elif self.world.password is not None:
            self.awaiting_password = True
            raise tg.SessionPasswordNeededError(request=None)
        self.signed_in = True
        self.session = SESSION
        return None

    async def get_me(self) -> Any:
        if not self.signed_in:
            return None
        return types.User(
            id=4242,
            first_name="Call",
            last_name="Centre",
            username="callcentre",
            phone="15550100000",
        )

    async def log_out(self) -> bool:
        self.world.logged_out.append(self.session)
        return True

    def session_string(self) -> str:
        return self.session


class Answers:
    def __init__(self, phone: str, codes: list[str], passwords: list[str] | None = None) -> None:
        self._phone, self._codes, self._passwords = phone, list(codes), list(passwords or [])
        self.said: list[str] = []

    def phone(self) -> str:
        return self._phone

    def code(self) -> str:
        return self._codes.pop(0)

    def password(self) -> str:
        return self._passwords.pop(0)

    def say(self, text: str) -> None:
        self.said.append(text)


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path, Cipher(KEY))


def account(phone: str = "15550100000", uid: int = 4242) -> CallerAccount:
    return CallerAccount(phone, TgUser(uid, "Call", "Centre", "callcentre"), Secret(SESSION))


def test_saved_encrypted_with_private_modes(store: SessionStore, tmp_path: Path) -> None:
    path = store.save(account())
    assert path == tmp_path / "telegram" / "15550100000.session"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    raw = path.read_bytes()
    assert SESSION.encode() not in raw and b"Centre" not in raw
    loaded = store.load("+1 555 010-0000")
    assert loaded.session.reveal() == SESSION and loaded.user.name == "Call Centre"
    assert SESSION not in repr(loaded)


def test_wrong_key_and_missing_file(store: SessionStore, tmp_path: Path) -> None:
    store.save(account())
    with pytest.raises(SessionError, match="cannot be decrypted"):
        SessionStore(tmp_path, Cipher("another key")).load("15550100000")
    with pytest.raises(SessionError, match=r"no caller account \+4915"):
        store.load("4915123456789")
    with pytest.raises(SessionError, match="not a phone number"):
        store.load("../etc/passwd")


async def test_login_with_code_and_2fa_password(
    store: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = FakeTelegramLogin(password=PASSWORD)
    answers = Answers("+1 (555) 010-0000", ["11111", CODE], ["wrong", PASSWORD])
    result = await sessions.login(store, world.factory, answers)
    assert result.user == TgUser(4242, "Call", "Centre", "callcentre", "15550100000")
    assert world.codes_sent == ["+15550100000"] and world.connected == 0
    assert store.load("15550100000").session.reveal() == SESSION
    assert any("not right" in s for s in answers.said)
    shown = " ".join(answers.said) + caplog.text
    assert all(secret not in shown for secret in (SESSION, CODE, PASSWORD))


async def test_login_gives_up_after_three_wrong_codes(store: SessionStore) -> None:
    world = FakeTelegramLogin()
    with pytest.raises(SessionError, match="code was wrong too often"):
        await sessions.login(store, world.factory, Answers("15550100000", ["1", "2", "3"]))
    assert store.list() == [] and world.connected == 0


async def test_login_with_a_number_telegram_refuses(store: SessionStore) -> None:
    world = FakeTelegramLogin(bad_phone=True)
    with pytest.raises(SessionError, match="does not accept"):
        await sessions.login(store, world.factory, Answers("15550100000", []))


# -- the CLI


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_SECRET_KEY": KEY,
        "TELESIP_TG_API_ID": "12345",
        "TELESIP_TG_API_HASH": "0123456789abcdef",
    }


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> FakeTelegramLogin:
    fake = FakeTelegramLogin(password=PASSWORD)
    monkeypatch.setattr(telegram_cli, "client_factory", lambda settings: fake.factory)
    return fake


def invoke(env: dict[str, str], *args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["telegram", *args], env=env, input=input)
    return result.exit_code, result.output


def test_cli_login_list_logout(env: dict[str, str], world: FakeTelegramLogin) -> None:
    code, out = invoke(env, "login", input=f"+15550100000\n{CODE}\n{PASSWORD}\n")
    assert code == 0, out
    assert "logged in: +15550100000 is Call Centre (id 4242)" in out
    assert all(secret not in out for secret in (SESSION, CODE, PASSWORD))

    code, out = invoke(env, "list")
    assert code == 0 and "+15550100000" in out and "4242" in out and "Call Centre" in out
    assert SESSION not in out

    code, out = invoke(env, "logout", "+15550100000")
    assert code == 0 and "removed" in out and "did not confirm" not in out
    assert world.logged_out == [SESSION]
    code, out = invoke(env, "list")
    assert "no caller accounts" in out

    code, out = invoke(env, "logout", "+15550100000")
    assert code == 1 and "no caller account +15550100000" in out and "Traceback" not in out


def test_cli_login_needs_the_api_settings(env: dict[str, str]) -> None:
    env = {**env, "TELESIP_TG_API_ID": "", "TELESIP_TG_API_HASH": ""}
    code, out = invoke(env, "login", input="+15550100000\n")
    assert code == 2 and "TELESIP_TG_API_ID and TELESIP_TG_API_HASH are not set" in out


def test_cli_logout_without_api_settings_removes_the_local_copy(
    env: dict[str, str], tmp_path: Path
) -> None:
    SessionStore(tmp_path / "data", Cipher(KEY)).save(account())
    code, out = invoke(env | {"TELESIP_TG_API_HASH": ""}, "logout", "15550100000")
    assert code == 0 and "removed" in out and "Settings → Devices" in out
    assert not (tmp_path / "data" / "telegram" / "15550100000.session").exists()


def test_cli_wrong_key_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    SessionStore(tmp_path / "data", Cipher("other")).save(account())
    code, out = invoke(env, "list")
    assert code == 1 and "cannot be decrypted" in out and "Traceback" not in out


def test_cli_login_and_logout_keep_the_bots_list_of_caller_accounts(
    env: dict[str, str], world: FakeTelegramLogin, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def listed() -> list[tuple[int, str, str | None, str | None]]:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        async with services_for(Settings()) as deps:
            return [(c.id, c.name, c.username, c.phone) for c in await caller_accounts(deps)]

    code, out = invoke(env, "login", input=f"+15550100000\n{CODE}\n{PASSWORD}\n")
    assert code == 0, out
    assert asyncio.run(listed()) == [(4242, "Call Centre", "callcentre", "+1******0000")]
    code, out = invoke(env, "logout", "+15550100000")
    assert code == 0, out
    assert asyncio.run(listed()) == []


def test_cli_login_with_the_database_unreachable_still_saves_the_session(
    env: dict[str, str], world: FakeTelegramLogin
) -> None:
    env = env | {"TELESIP_DATABASE_URL": "postgresql+asyncpg://nobody@127.0.0.1:1/none"}
    code, out = invoke(env, "login", input=f"+15550100000\n{CODE}\n{PASSWORD}\n")
    assert code == 0, out
    assert "logged in: +15550100000" in out
    assert "warning:" in out and "could not record it" in out and "Traceback" not in out
