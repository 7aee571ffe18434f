"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from telesip.services.context import Services
from telesip.store import migrate
from telesip.store.tables import metadata


async def test_migrated_schema_matches_the_tables(s: Services) -> None:
    async with s.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), metadata)
        )
    assert diff == []
    assert set(await migrate.current_revisions(s.engine)) == set(migrate.head_revisions())
