"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import update

from telesip.domain import errors
from telesip.services import accounts
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store import tables as t
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.tables import metadata

from ..conftest import TEST_KEY
from .helpers import ALICE, BOB, sip


async def test_migrated_schema_matches_the_tables(deps: Dependencies) -> None:
    async with deps.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), metadata)
        )
    assert diff == []
    assert set(await migrate.current_revisions(deps.engine)) == set(migrate.head_revisions())


async def test_acc_0001_keeps_the_oldest_enabled_copy_of_a_line(tmp_path: Path) -> None:
    """Rows from before the index: two enabled copies of one line (and a third, disabled);
    the migration keeps the oldest enabled, disables the newer with the message, and then the
    database refuses a second enabled copy."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        await migrate.upgrade(engine)
        deps = Dependencies(engine, Cipher(TEST_KEY))
        first = await accounts.create_account(deps, ALICE, sip("801"))
        newer = await accounts.create_account(deps, BOB, sip("801"))  # stored disabled
        other = await accounts.create_account(deps, BOB, sip("802"))
        async with engine.begin() as conn:
            # the accounts branch back to before acc_0001 (and whatever came after it)
            await conn.run_sync(migrate._run, command.downgrade, "accounts@0001")
        async with engine.begin() as conn:  # no index: what a race could leave before it
            await conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == newer)
                .values(enabled=True, reg_error=None)
            )
        await migrate.upgrade(engine)
        cards = {i: (await accounts.get_card(deps, None, i)).summary for i in (first, newer, other)}
        assert cards[first].enabled and cards[other].enabled and not cards[newer].enabled
        assert (
            cards[newer].reg_error is not None and "801@pbx.example.com" in cards[newer].reg_error
        )
        with pytest.raises(errors.LineConnected):
            await accounts.set_enabled(deps, BOB, newer, True)
    finally:
        await engine.dispose()
