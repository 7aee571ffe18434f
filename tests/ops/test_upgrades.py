"""Upgrades: a database made by the previous migrations, with data in it, is migrated at start
and its data stays readable; code older than the database refuses to start; with
TELESIP_AUTO_MIGRATE=0 an older database is refused with what to do. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from telesip.cli import app
from telesip.domain.errors import ConfigError
from telesip.domain.settings import AccountSettings, Secret
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.rows import settings_values
from tests.conftest import TEST_KEY

NOW = datetime(2026, 1, 5, 9, 0)  # naive UTC, as stored


def previous_revisions() -> list[str]:
    """The schema one migration before today's: every head's parent(s). As migrations are
    added this keeps meaning "the database the previous code left behind"."""
    script = migrate.ScriptDirectory.from_config(migrate.alembic_config())
    previous: list[str] = []
    for head in script.get_heads():
        down = script.get_revision(head).down_revision
        previous += [down] if isinstance(down, str) else list(down or ())
    return sorted(set(previous))


async def _upgrade_to(engine: AsyncEngine, revisions: list[str]) -> None:
    for revision in revisions:
        await migrate.upgrade(engine, revision)


async def _fill(engine: AsyncEngine, cipher: Cipher) -> None:
    """Rows as the previous code stored them, into whatever columns that schema has."""
    meta = MetaData()
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: meta.reflect(c, only=["users", "accounts", "audit"]))
        users, accounts, audit = (meta.tables[n] for n in ("users", "accounts", "audit"))
        await conn.execute(insert(users), [{"id": 501, "first_name": "Ann", "created_at": NOW}])
        for n in (1, 2):
            settings = AccountSettings(
                login=f"10{n}", password=Secret(f"pw-{n}"), domain="pbx.example.com"
            ).validated()
            row: dict[str, Any] = settings_values(settings) | {
                "owner_id": 501,
                "user_id": 501,
                "payer": "owner_plan",
                "password_enc": cipher.encrypt(settings.password),
                "created_at": NOW,
                "updated_at": NOW,
            }
            await conn.execute(
                insert(accounts), [{k: v for k, v in row.items() if k in accounts.c}]
            )
        await conn.execute(
            insert(audit), [{"at": NOW, "actor_id": 501, "action": "create", "details": {}}]
        )


async def test_database_of_the_previous_migrations_with_data_is_upgraded(
    empty_url: str,
) -> None:
    engine = create_engine(empty_url)
    cipher = Cipher(TEST_KEY)
    try:
        previous = previous_revisions()
        assert previous and set(previous) != set(migrate.head_revisions())
        await _upgrade_to(engine, previous)
        await _fill(engine, cipher)
        before = await migrate.schema_state(engine)
        assert not before.at_heads and not before.newer

        state = await migrate.prepare(engine, auto_migrate=True)  # what every process does

        assert state == before
        after = await migrate.schema_state(engine)
        assert after.at_heads
        deps = Dependencies(engine, cipher)
        async with deps.uow(readonly=True) as uow:
            accounts = [await uow.accounts.get(n) for n in (1, 2)]
            assert [a.settings.password.reveal() for a in accounts if a] == ["pw-1", "pw-2"]
            assert [a.settings.login for a in accounts if a] == ["101", "102"]
            assert not any(a.settings.record for a in accounts if a)  # a column added later
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM audit"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_auto_migrate_off_refuses_an_older_database_and_changes_nothing(
    empty_url: str,
) -> None:
    engine = create_engine(empty_url)
    try:
        await _upgrade_to(engine, previous_revisions())
        before = await migrate.current_revisions(engine)
        with pytest.raises(ConfigError) as caught:
            await migrate.prepare(engine, auto_migrate=False)
        assert "TELESIP_AUTO_MIGRATE=0" in caught.value.message
        assert "telesip db upgrade" in caught.value.message
        assert await migrate.current_revisions(engine) == before
        await migrate.upgrade(engine)  # `telesip db upgrade`, then the process starts
        assert (await migrate.prepare(engine, auto_migrate=False)).at_heads
    finally:
        await engine.dispose()


async def _stamp_newer(engine: AsyncEngine) -> None:
    """What a newer telesip leaves: a revision after one of today's heads."""
    await migrate.upgrade(engine)
    head = migrate.head_revisions()[0]
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE alembic_version SET version_num = 'zz_9999' WHERE version_num = :h"),
            {"h": head},
        )


async def test_code_older_than_the_database_refuses_whatever_the_settings(
    empty_url: str,
) -> None:
    engine = create_engine(empty_url)
    try:
        await _stamp_newer(engine)
        for auto in (True, False):
            with pytest.raises(ConfigError, match="newer telesip") as caught:
                await migrate.prepare(engine, auto_migrate=auto)
            assert "zz_9999" in caught.value.message
        with pytest.raises(ConfigError, match="newer telesip"):
            await migrate.upgrade(engine)  # `telesip db upgrade` with the old code
        assert "zz_9999" in await migrate.current_revisions(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """`run` and `worker` set up logging on CliRunner's stream, closed after the call: put the
    root logger back so that later tests do not write to it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("command", [["worker"], ["run"], ["accounts", "list"], ["db", "upgrade"]])
def test_older_code_refusal_from_the_command(
    tmp_path: Path, command: list[str], root_logging: None
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'telesip.db'}"

    async def stamp() -> None:
        engine = create_engine(url)
        try:
            await _stamp_newer(engine)
        finally:
            await engine.dispose()

    asyncio.run(stamp())
    env = {
        "TELESIP_DATABASE_URL": url,
        "TELESIP_DATA_DIR": str(tmp_path / "data"),
        "TELESIP_SECRET_KEY": TEST_KEY,
        "TELESIP_SIP_BIND": "127.0.0.1:0",
    }
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 1, result.output
    assert "newer telesip" in result.output and "zz_9999" in result.output
    assert "Traceback" not in result.output
