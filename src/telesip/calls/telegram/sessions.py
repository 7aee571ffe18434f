"""Caller accounts' Telethon sessions, encrypted at rest, and the login that makes them.

Each account is ``DATA_DIR/telegram/<phone digits>.session`` (mode 0600, the directory 0700):
a Fernet token (the service's secret key, as for SIP passwords) of a small JSON document with
the StringSession and who the account is, so ``list`` needs no network. Session strings, login
codes and 2FA passwords are ``Secret``s: they never reach a log, an error text or the screen.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.errors import SessionError
from telesip.domain.errors import ConfigError
from telesip.domain.settings import Secret
from telesip.store.crypto import Cipher, load_key

SUFFIX = ".session"
_PHONE = re.compile(r"^\d{7,15}$")


def normalize_phone(raw: str) -> str:
    """Digits only (``+1 555-010-0000`` -> ``15550100000``); SessionError if it is no number."""
    digits = re.sub(r"[\s\-().+]", "", raw)
    if not _PHONE.match(digits):
        raise SessionError(reason=f"{raw!r} is not a phone number in international format")
    return digits


@dataclass(frozen=True)
class CallerAccount:
    """A logged-in caller account as stored."""

    phone: str
    user: TgUser
    session: Secret = field(repr=False)


class SessionStore:
    def __init__(self, data_dir: Path, cipher: Cipher) -> None:
        self.dir = data_dir / "telegram"
        self._cipher = cipher

    @classmethod
    def open(cls, data_dir: Path, secret_key: str | None) -> SessionStore:
        """The store under ``data_dir`` with the service's key (TELESIP_SECRET_KEY or key file)."""
        return cls(data_dir, Cipher(load_key(secret_key, data_dir)))

    def path(self, phone: str) -> Path:
        return self.dir / f"{normalize_phone(phone)}{SUFFIX}"

    def save(self, account: CallerAccount) -> Path:
        """Writes atomically with mode 0600 (the directory 0700)."""
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        doc = {
            "session": account.session.reveal(),
            "user": {
                "id": account.user.id,
                "first_name": account.user.first_name,
                "last_name": account.user.last_name,
                "username": account.user.username,
                "phone": account.user.phone,
            },
        }
        token = self._cipher.encrypt(Secret(json.dumps(doc)))
        path = self.path(account.phone)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, token)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return path

    def load(self, phone: str) -> CallerAccount:
        path = self.path(phone)
        try:
            token = path.read_bytes()
        except FileNotFoundError:
            raise SessionError(reason=f"no caller account +{normalize_phone(phone)}") from None
        except OSError as exc:
            raise SessionError(reason=f"cannot read {path}: {exc.strerror}") from None
        try:
            doc: dict[str, Any] = json.loads(self._cipher.decrypt(token).reveal())
        except ConfigError:
            raise SessionError(
                reason=f"{path.name} cannot be decrypted: TELESIP_SECRET_KEY or the key file is "
                "not the one it was saved with"
            ) from None
        except ValueError:
            raise SessionError(reason=f"{path.name} is damaged") from None
        user = doc["user"]
        return CallerAccount(
            phone=normalize_phone(phone),
            user=TgUser(
                id=int(user["id"]),
                first_name=user.get("first_name") or "",
                last_name=user.get("last_name") or "",
                username=user.get("username"),
                phone=user.get("phone"),
            ),
            session=Secret(doc["session"]),
        )

    def phones(self) -> list[str]:
        """The phones of the stored accounts, without reading (or decrypting) them."""
        if not self.dir.is_dir():
            return []
        return [p.stem for p in sorted(self.dir.glob(f"*{SUFFIX}"))]

    def list(self) -> list[CallerAccount]:
        return [self.load(phone) for phone in self.phones()]

    def delete(self, phone: str) -> bool:
        try:
            self.path(phone).unlink()
        except FileNotFoundError:
            return False
        return True


# -- login and logout through a Telethon-like client


class LoginClient(Protocol):
    """The part of ``TelegramClient`` the login uses (tests pass a fake)."""

    async def connect(self) -> None: ...
    async def disconnect(self) -> None: ...
    async def send_code_request(self, phone: str) -> Any: ...
    async def sign_in(
        self, phone: str | None = None, code: str | None = None, *, password: str | None = None
    ) -> Any: ...
    async def get_me(self) -> Any: ...
    async def log_out(self) -> bool: ...
    def session_string(self) -> str: ...


ClientFactory = Callable[[str], LoginClient]  # session string ("" for a new one) -> client


class LoginPrompts(Protocol):
    def phone(self) -> str: ...
    def code(self) -> str: ...
    def password(self) -> str: ...
    def say(self, text: str) -> None: ...


class TelethonLoginClient:
    """``TelegramClient`` with a StringSession, seen through ``LoginClient``."""

    def __init__(self, session: str, api_id: int, api_hash: str) -> None:
        from telethon import TelegramClient
        from telethon.sessions import StringSession

        self.client = TelegramClient(StringSession(session or None), api_id, api_hash)

    async def connect(self) -> None:
        await self.client.connect()

    async def disconnect(self) -> None:
        await self.client.disconnect()

    async def send_code_request(self, phone: str) -> Any:
        return await self.client.send_code_request(phone)

    async def sign_in(
        self, phone: str | None = None, code: str | None = None, *, password: str | None = None
    ) -> Any:
        return await self.client.sign_in(phone=phone, code=code, password=password)

    async def get_me(self) -> Any:
        return await self.client.get_me()

    async def log_out(self) -> bool:
        return bool(await self.client.log_out())

    def session_string(self) -> str:
        return str(self.client.session.save())


def telethon_factory(api_id: int, api_hash: str) -> ClientFactory:
    return lambda session: TelethonLoginClient(session, api_id, api_hash)


def _rpc_name(exc: BaseException) -> str:
    return type(exc).__name__.removesuffix("Error")


async def login(
    store: SessionStore, factory: ClientFactory, prompts: LoginPrompts, *, attempts: int = 3
) -> CallerAccount:
    """Asks for the phone, the code Telegram sends, and the 2FA password if set; stores it."""
    from telethon import errors as tg

    phone = normalize_phone(prompts.phone())
    client = factory("")
    try:
        await client.connect()
        try:
            await client.send_code_request(f"+{phone}")
        except tg.PhoneNumberInvalidError:
            raise SessionError(reason=f"Telegram does not accept +{phone}") from None
        except tg.FloodWaitError as exc:
            raise SessionError(reason=f"Telegram asks to wait {exc.seconds} s") from None
        prompts.say(f"Telegram sent a login code to +{phone} (in the Telegram app or by SMS).")
        for attempt in range(attempts):
            try:
                await client.sign_in(phone=f"+{phone}", code=prompts.code())
                break
            except tg.SessionPasswordNeededError:
                await _password(client, prompts, attempts)
                break
            except tg.PhoneCodeInvalidError:
                if attempt + 1 == attempts:
                    raise SessionError(reason="the login code was wrong too often") from None
                prompts.say("That code is not right; try again.")
            except (tg.PhoneCodeExpiredError, tg.FloodWaitError) as exc:
                raise SessionError(reason=f"login failed ({_rpc_name(exc)})") from None
        me = await client.get_me()
        if me is None:
            raise SessionError(reason="Telegram did not complete the login")
        account = CallerAccount(
            phone=phone,
            user=TgUser(
                id=int(me.id),
                first_name=me.first_name or "",
                last_name=me.last_name or "",
                username=me.username,
                phone=me.phone,
            ),
            session=Secret(client.session_string()),
        )
        store.save(account)
        return account
    finally:
        await client.disconnect()


async def _password(client: LoginClient, prompts: LoginPrompts, attempts: int) -> None:
    from telethon import errors as tg

    for attempt in range(attempts):
        try:
            await client.sign_in(password=prompts.password())
            return
        except tg.PasswordHashInvalidError:
            if attempt + 1 == attempts:
                raise SessionError(reason="the 2FA password was wrong too often") from None
            prompts.say("That password is not right; try again.")


async def logout(store: SessionStore, factory: ClientFactory | None, phone: str) -> bool:
    """Ends the session at Telegram (when ``factory`` is given) and deletes the file.

    Returns whether Telegram confirmed; the file is deleted either way.
    """
    account = store.load(phone)
    ended = False
    if factory is not None:
        client = factory(account.session.reveal())
        try:
            await client.connect()
            ended = await client.log_out()
        except Exception:  # offline or already ended: the local copy goes anyway
            ended = False
        finally:
            await client.disconnect()
    store.delete(phone)
    return ended
