"""Empty databases (SQLite file or a fresh PostgreSQL database) for the operations tests, which
migrate, stamp and re-key them themselves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from telesip.store.db import create_engine
from tests.conftest import PG_ADMIN_URL, _pg_url


async def _admin(sql: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    """The URL of an empty database on ``backend`` (PostgreSQL: skipped with the reason when no
    server answers, like every PostgreSQL test)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'telesip.db'}"
        return
    request.getfixturevalue("pg_database")  # skips with the how-to when there is no server
    db = f"telesip_o_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{db}"')
    yield _pg_url(db)
    await _admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
