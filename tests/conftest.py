"""Shared fixtures: the service layer on SQLite and on PostgreSQL.

``services`` is parametrised over both backends. PostgreSQL is the server at
TELESIP_TEST_PG_URL (default: postgres@127.0.0.1:5432/test, trust auth); each test session makes
its own database there and drops it at the end. Where no server answers, the PostgreSQL cases
are skipped with a message saying how to run them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from telesip.domain.clock import FakeClock
from telesip.services.dependencies import Dependencies, Rules
from telesip.store import migrate
from telesip.store.crypto import Cipher
from telesip.store.db import create_engine
from telesip.store.tables import metadata

PG_ADMIN_URL = os.environ.get(
    "TELESIP_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
PG_HOWTO = (
    "PostgreSQL tests skipped: no server answered at {url} ({error}). Run a PostgreSQL server "
    "with trust auth and a database 'test' on 127.0.0.1:5432, or point TELESIP_TEST_PG_URL at one."
)
TEST_KEY = "test-secret-key-material"


async def _pg_create(db: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{db}"'))
    finally:
        await engine.dispose()
    engine = create_engine(_pg_url(db))
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


async def _pg_drop(db: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    finally:
        await engine.dispose()


def _pg_url(db: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{db}"


def _run_in_thread(coro: Any) -> Any:
    """Run a coroutine to the end on its own loop (fixtures may be set up inside a loop)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (URL)."""
    db = f"telesip_t_{uuid.uuid4().hex[:10]}"
    try:
        _run_in_thread(_pg_create(db))
    except Exception as exc:  # no server here: skip with the reason and how to fix it
        reason = PG_HOWTO.format(url=PG_ADMIN_URL, error=str(exc).splitlines()[0][:120])
        print("\n" + reason)
        pytest.skip(reason)
    yield _pg_url(db)
    _run_in_thread(_pg_drop(db))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once for the session. Each test gets a copy of the file
    (`fresh_sqlite`): the bytes `migrate.upgrade` writes into an empty file, in a millisecond
    instead of the quarter second of CPU that running the migrations takes."""
    path = tmp_path_factory.mktemp("sqlite-template") / "telesip.db"

    async def make() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    _run_in_thread(make())
    with contextlib.closing(sqlite3.connect(path)) as conn:  # everything into the one file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template is not in one file: {leftovers}"
    return path


def fresh_sqlite(request: pytest.FixtureRequest, path: Path) -> str:
    """The URL of a new, migrated SQLite database at ``path`` (a copy of the session's
    template)."""
    shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


async def _truncate(services: Dependencies) -> None:
    """Empty every table (the webhook cursor's seeded row too, as TRUNCATE did) and restart
    every sequence. DELETE, children first, rather than TRUNCATE: on tables of a few rows it
    takes about a fifth of the time (TRUNCATE makes new files for each of the 22 tables)."""
    async with services.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
        await conn.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, "
                "start_value, false) FROM pg_sequences"
            )
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "pg"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def make_services(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    clock: FakeClock,
    rules: Rules | None = None,
) -> Dependencies:
    if backend == "pg":
        url = request.getfixturevalue("pg_database")
        deps = Dependencies(create_engine(url), Cipher(TEST_KEY), clock, rules or Rules())
        await _truncate(deps)
        return deps
    engine = create_engine(fresh_sqlite(request, tmp_path / "telesip.db"))
    return Dependencies(engine, Cipher(TEST_KEY), clock, rules or Rules())


@pytest.fixture
async def services(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Dependencies]:
    deps = await make_services(backend, request, tmp_path, clock)
    yield deps
    await deps.engine.dispose()
