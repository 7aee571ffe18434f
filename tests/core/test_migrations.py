"""The migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from telesip.services.dependencies import Dependencies
from telesip.store import migrate
from telesip.store.tables import metadata


async def test_migrated_schema_matches_the_tables(deps: Dependencies) -> None:
    async with deps.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), metadata)
        )
    assert diff == []
    assert set(await migrate.current_revisions(deps.engine)) == set(migrate.head_revisions())
