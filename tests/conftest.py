"""Shared fixtures: the service layer on SQLite and on PostgreSQL.

``services`` is parametrised over both backends. PostgreSQL is the server at
TELESIP_TEST_PG_URL (default: postgres@127.0.0.1:5432/test, trust auth); each test session makes
its own database there and drops it at the end. Where no server answers, the PostgreSQL cases
are skipped with a message saying how to run them.
"""

from __future__ import annotations

import asyncio
import os
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


async def _truncate(services: Dependencies) -> None:
    names = ", ".join(t.name for t in metadata.sorted_tables)
    async with services.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


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
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'telesip.db'}")
    await migrate.upgrade(engine)
    return Dependencies(engine, Cipher(TEST_KEY), clock, rules or Rules())


@pytest.fixture
async def services(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> AsyncIterator[Dependencies]:
    deps = await make_services(backend, request, tmp_path, clock)
    yield deps
    await deps.engine.dispose()
