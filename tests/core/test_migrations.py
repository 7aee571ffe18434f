"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text, update

from telesip.domain import errors
from telesip.domain.model import Method
from telesip.services import accounts, offers
from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store import tables as t
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.tables import metadata

from ..conftest import TEST_KEY, _pg_create, _pg_drop, _pg_url
from .helpers import ALICE, BOB, PASSWORD, sip


async def test_migrated_schema_matches_the_tables(deps: Dependencies) -> None:
    async with deps.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(
                    c, opts={"include_object": t.include_object_on(c.dialect.name)}
                ),
                metadata,
            )
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


def _indexes(conn: Any, table: str) -> set[str]:
    return {index["name"] for index in inspect(conn).get_indexes(table)}


async def test_core_0004_goes_down_to_core_0003_and_up_again(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """The core branch alone steps back (the others stay at their heads): the index of every
    line (PostgreSQL) and of every audit record's time come back, the partial ones go, the
    transfer back is core_0003's function again and a cycle works on it; upgraded again, the
    schema is the declared one and a cycle works on the new function."""
    if backend == "pg":
        request.getfixturevalue("pg_database")  # skipped without a server, as the others
        db = f"telesip_t_{uuid.uuid4().hex[:10]}"
        await _pg_create(db)  # migrated to the heads
        engine = create_engine(_pg_url(db))
    else:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
        await migrate.upgrade(engine)
    try:
        deps = Dependencies(engine, Cipher(TEST_KEY))
        heads = set(migrate.head_revisions())
        async with engine.begin() as conn:
            await conn.run_sync(migrate._run, command.downgrade, "core_0004-1")
        assert set(await migrate.current_revisions(engine)) == heads - {"core_0004"} | {"core_0003"}
        async with engine.connect() as conn:
            accounts_ix = await conn.run_sync(_indexes, "accounts")
            audit_ix = await conn.run_sync(_indexes, "audit")
            offers_ix = await conn.run_sync(_indexes, "offers")
            if backend == "pg":
                body = await conn.scalar(
                    text("SELECT prosrc FROM pg_proc WHERE proname = 'telesip_transfer_back'")
                )
                assert "v_pending" not in body and "DELETE FROM guesses" in body
        assert "ix_accounts_identity" in accounts_ix
        assert "ix_audit_at" in audit_ix and "ix_audit_deleted" not in audit_ix
        assert "ix_offers_inline_message" not in offers_ix
        await _cycle(deps, "700")

        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c, opts={"include_object": t.include_object_on(c.dialect.name)}
                    ),
                    metadata,
                )
            )
            accounts_ix = await conn.run_sync(_indexes, "accounts")
        assert diff == []
        assert ("ix_accounts_identity" in accounts_ix) == (backend == "sqlite")
        await _cycle(deps, "701")
    finally:
        await engine.dispose()
        if backend == "pg":
            await _pg_drop(db)


async def _cycle(deps: Dependencies, login: str) -> None:
    account = await accounts.create_account(deps, ALICE, sip(login))
    offer = await offers.create_offer(deps, ALICE, account, Method.UNLINK)
    await offers.receive(deps, BOB, offer.id)
    assert await offers.transfer_back(deps, ALICE, account, PASSWORD)
    card = await accounts.get_card(deps, None, account)
    assert card.summary.owner_id == ALICE.id
