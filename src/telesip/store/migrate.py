"""Schema migrations with Alembic, driven from async code on the service's own engine.

Every process checks the database's revisions against its code's before it touches data
(:func:`prepare`): code older than the database (a revision it does not know) refuses to start,
whatever the settings; code newer than the database migrates it, unless
``TELESIP_AUTO_MIGRATE=0``, then it refuses and says to run ``telesip db upgrade``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from telesip.domain.errors import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _run(sync_conn: Any, fn: Any, *args: Any) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = sync_conn
    fn(cfg, *args)


@dataclass(frozen=True)
class SchemaState:
    """The database's revisions beside the code's."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    unknown: tuple[str, ...]  # revisions this code does not have: the database is newer

    @property
    def at_heads(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def newer(self) -> bool:
        return bool(self.unknown)

    def describe(self) -> str:
        return f"database at {', '.join(self.current) or 'no revision (empty)'}; " + (
            f"this telesip's migrations end at {', '.join(self.heads)}"
        )


async def schema_state(engine: AsyncEngine) -> SchemaState:
    """Read the database's revisions (a :class:`ConfigError` when it cannot be reached)."""
    try:
        current = await current_revisions(engine)
    except (DBAPIError, OSError) as exc:
        raise ConfigError(reason=f"cannot reach the database: {_first_line(exc)}") from exc
    script = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in script.walk_revisions()}
    return SchemaState(
        current=current,
        heads=tuple(script.get_heads()),
        unknown=tuple(r for r in current if r not in known),
    )


def _refuse_newer(state: SchemaState) -> None:
    if state.newer:
        raise ConfigError(
            reason=f"{state.describe()}: the database was migrated by a newer telesip "
            f"(revision {', '.join(state.unknown)} is unknown here). Upgrade telesip on this "
            "machine to that version before starting it"
        )


async def prepare(engine: AsyncEngine, *, auto_migrate: bool = True) -> SchemaState:
    """Make sure this code may use the database: refuse a newer database; migrate an older one
    (or, with ``auto_migrate`` off, refuse and say how). Returns the state found."""
    state = await schema_state(engine)
    _refuse_newer(state)
    if not state.at_heads:
        if not auto_migrate:
            raise ConfigError(
                reason=f"{state.describe()}: the database needs migrating and "
                "TELESIP_AUTO_MIGRATE=0 forbids doing it at start. Back it up, run "
                "`telesip db upgrade` once, then start the processes"
            )
        await upgrade(engine)
    return state


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Bring the schema to ``revision``; several processes starting at once are safe on
    PostgreSQL (an advisory lock serialises them). A database newer than the code is refused."""
    _refuse_newer(await schema_state(engine))
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7310001)")
            await conn.run_sync(_run, command.upgrade, revision)
    except (DBAPIError, OSError) as exc:
        raise ConfigError(reason=f"cannot migrate the database: {_first_line(exc)}") from exc


async def current_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return tuple(heads)


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
