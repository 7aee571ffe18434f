"""``telesip secrets rotate``: every stored secret re-encrypted under the new key in one
transaction, nothing changed when a secret opens with neither key, a re-run completes an
interrupted rotation; the command's key handling. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import os
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update
from typer.testing import CliRunner

from telesip.calls.telegram.adapter import TgUser
from telesip.calls.telegram.sessions import CallerAccount, SessionStore
from telesip.cli import app
from telesip.domain.errors import ConfigError
from telesip.domain.model import TelegramUser
from telesip.domain.operators import Scope
from telesip.domain.settings import AccountSettings, Secret
from telesip.services import idempotency, webhooks
from telesip.services.accounts import create_account
from telesip.services.dependencies import Dependencies
from telesip.store import keyring
from telesip.store import tables as t
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.repositories.imports import PendingImport
from tests.conftest import TEST_KEY

NEW_KEY = "a-brand-new-key"
ANN = TelegramUser(id=501, first_name="Ann")


async def _fill(deps: Dependencies, data_dir: Path) -> int:
    """Two accounts, a webhook, a conversation holding a typed password, a guess, a journaled
    update, an import file waiting for its press, a session."""
    for n in (1, 2):
        settings = AccountSettings(login=f"10{n}", password=Secret(f"pw-{n}"), domain="pbx.test")
        await create_account(deps, ANN, settings)
    hook = await webhooks.register_webhook(deps, "acme", Scope(all=True), "https://hooks.test/x")
    sealed = base64.b64encode(deps.cipher.encrypt(Secret("typed-pw"))).decode()
    now = datetime(2026, 1, 5, tzinfo=UTC)
    async with deps.engine.begin() as conn:
        await conn.execute(
            insert(t.bot_fsm),
            [
                {"key": "b:1:1", "state": "s", "data": {"password": sealed}, "updated_at": now},
                {"key": "b:2:2", "state": None, "data": {"login": "x"}, "updated_at": now},
            ],
        )
        await conn.execute(
            insert(t.guesses),
            [
                {
                    "user_id": 501,
                    "account_id": 1,
                    "window_start": now,
                    "failures": 2,
                    "free_steps": 0,
                    "last_hash": deps.cipher.mac("x"),
                    "last_prefix_hash": deps.cipher.mac("y"),
                }
            ],
        )
    async with deps.uow() as uow:  # a webhook update waiting to be handled (it may hold a password)
        update_ = {"update_id": 77, "message": {"text": "101:typed-pw@pbx.test"}}
        await uow.bot_updates.keep(77, update_, "a-bot-process", now)
        await uow.commit()
    async with deps.uow() as uow:  # an import file waiting for its press (it holds passwords)
        sheet = PendingImport(9, 501, "pbx.csv", None, b"login,password\n103,file-pw\n")
        await uow.pending_imports.put(sheet, now, now + timedelta(minutes=10))
        await uow.commit()
    # a stored idempotent answer (a new webhook's signing key), and a claim with none yet
    for key in ("answered", "running"):
        assert await idempotency.begin(deps, "op:1", key, "f" * 64) is None
    answer = idempotency.Stored(201, [], b"whsec_in_a_stored_answer")
    await idempotency.finish(deps, "op:1", "answered", answer)
    SessionStore(data_dir, deps.cipher).save(
        CallerAccount(phone="15550100001", user=TgUser(id=9, first_name="C"), session=Secret("ss"))
    )
    assert hook.secret.startswith("whsec_")
    return hook.webhook.id


async def _secrets(deps: Dependencies, cipher: Cipher, data_dir: Path) -> list[str]:
    """Every stored secret decrypted with ``cipher`` (ConfigError when one does not open)."""
    async with deps.engine.connect() as conn:
        accounts = (await conn.execute(select(t.accounts.c.password_enc))).scalars().all()
        hooks = (await conn.execute(select(t.webhooks.c.secret_enc))).scalars().all()
        data = (await conn.execute(select(t.bot_fsm.c.data).order_by(t.bot_fsm.c.key))).all()
        updates = (await conn.execute(select(t.bot_updates.c.payload))).scalars().all()
        files = (await conn.execute(select(t.pending_imports.c.content))).scalars().all()
        answers = (await conn.execute(select(t.idempotency_keys.c.body))).scalars().all()
    found = [cipher.decrypt(bytes(x)).reveal() for x in [*accounts, *hooks, *updates]]
    found += [zlib.decompress(cipher.unseal(bytes(x))).decode() for x in files]
    found += [cipher.unseal(bytes(x)).decode() for x in answers if x is not None]
    found.append(cipher.decrypt(base64.b64decode(data[0][0]["password"])).reveal())
    found += [a.session.reveal() for a in SessionStore(data_dir, cipher).list()]
    return sorted(found, key=lambda v: (v.startswith("whsec_"), v))


async def test_rotation_reencrypts_every_secret_in_one_go(
    services: Dependencies, tmp_path: Path
) -> None:
    old, new = services.cipher, Cipher(NEW_KEY)
    await _fill(services, tmp_path)
    before = await _secrets(services, old, tmp_path)
    assert before[:5] == ["login,password\n103,file-pw\n", "pw-1", "pw-2", "ss", "typed-pw"]
    assert "typed-pw@pbx.test" in before[5]  # the journaled update
    assert before[6].startswith("whsec_") and "whsec_in_a_stored_answer" in before[6:]

    result = await keyring.rotate(services.engine, tmp_path, old, new)

    assert result.rows == {
        "accounts": 2,
        "webhooks": 1,
        "bot_updates": 1,
        "pending_imports": 1,
        "idempotency_keys": 1,
    }
    assert (result.conversations, result.sessions, result.total) == (1, 1, 8)
    assert await _secrets(services, new, tmp_path) == before
    with pytest.raises(ConfigError):
        await _secrets(services, old, tmp_path)
    async with services.engine.connect() as conn:
        guess = (await conn.execute(select(t.guesses))).one()
        untouched = (
            await conn.execute(select(t.bot_fsm.c.data).where(t.bot_fsm.c.key == "b:2:2"))
        ).scalar_one()
    assert guess.failures == 2 and guess.last_hash is None and guess.last_prefix_hash is None
    assert untouched == {"login": "x"}
    assert (await keyring.check(services.engine, new, tmp_path)).failed == []
    assert len((await keyring.check(services.engine, old, tmp_path)).failed) == 6
    assert not list((tmp_path / "telegram").glob("*.rekey"))
    assert os.stat(tmp_path / "telegram" / "15550100001.session").st_mode & 0o777 == 0o600

    again = await keyring.rotate(services.engine, tmp_path, old, new)  # resumes: nothing left
    assert (again.total, again.already_new) == (0, 8)


async def test_a_secret_neither_key_opens_changes_nothing(
    services: Dependencies, tmp_path: Path
) -> None:
    old, new = services.cipher, Cipher(NEW_KEY)
    await _fill(services, tmp_path)
    before = await _secrets(services, old, tmp_path)
    async with services.engine.begin() as conn:  # one password stored under some third key
        await conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == 2)
            .values(password_enc=Cipher("a third key").encrypt(Secret("pw-2")))
        )
    with pytest.raises(ConfigError, match="accounts #2 opens with neither"):
        await keyring.rotate(services.engine, tmp_path, old, new)
    async with services.engine.begin() as conn:
        await conn.execute(
            update(t.accounts)
            .where(t.accounts.c.id == 2)
            .values(password_enc=old.encrypt(Secret("pw-2")))
        )
    assert await _secrets(services, old, tmp_path) == before  # all still under the old key
    assert not list((tmp_path / "telegram").glob("*.rekey"))


async def _one_account(url: str) -> None:
    deps = Dependencies(create_engine(url), Cipher(TEST_KEY))
    try:
        await create_account(deps, ANN, AccountSettings("101", Secret("pw-1"), "pbx.test"))
    finally:
        await deps.engine.dispose()


async def _check(url: str, cipher: Cipher) -> tuple[int, list[str]]:
    engine = create_engine(url)
    try:
        found = await keyring.check(engine, cipher, None)
    finally:
        await engine.dispose()
    return found.tried, found.failed


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'data' / 'telesip.db'}",
        "TELESIP_SECRET_KEY": "",
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_rotate_command_with_the_key_file(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _cli(env, "db", "upgrade")[0] == 0
    key_file = tmp_path / "data" / "secret.key"
    old_key = key_file.read_text().strip()
    code, out = _cli(env, "subscriptions", "set", "501", "office")
    assert code == 0, out

    code, out = _cli(env, "secrets", "rotate")

    assert code == 0, out
    assert "re-encrypted 0 secrets" in out and "now holds the new key" in out
    new_key = key_file.read_text().strip()
    assert new_key and new_key != old_key and old_key not in out and new_key not in out
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / "data" / "secret.key.new").exists()


def test_rotate_command_with_the_key_setting(tmp_path: Path) -> None:
    key_file = tmp_path / "old.key"
    key_file.write_text(TEST_KEY + "\n")
    (tmp_path / "data").mkdir()
    env = _env(tmp_path, TELESIP_SECRET_KEY_FILE=str(key_file))
    del env["TELESIP_SECRET_KEY"]
    assert _cli(env, "db", "upgrade")[0] == 0
    url = env["TELESIP_DATABASE_URL"]
    asyncio.run(_one_account(url))
    code, out = _cli(env, "secrets", "rotate")
    assert code == 1 and "--new-key-file" in out

    new_file = tmp_path / "new.key"
    code, out = _cli(env, "secrets", "rotate", "--new-key-file", str(new_file))
    assert code == 0, out
    assert f"TELESIP_SECRET_KEY_FILE={new_file}" in out
    assert "re-encrypted 1 secrets (accounts: 1," in out
    assert new_file.stat().st_mode & 0o777 == 0o600
    new_key = new_file.read_text().strip()
    assert asyncio.run(_check(url, Cipher(new_key))) == (1, [])
    assert asyncio.run(_check(url, Cipher(TEST_KEY))) == (1, ["accounts #1"])
    code, out = _cli(env, "secrets", "rotate", "--new-key-file", str(key_file))
    assert code == 1 and "same as the old one" in out
