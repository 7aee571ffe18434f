"""Composition root: builds the engine, cipher, bus and services from Settings, and runs the
service's parts (bot, API, SIP worker) side by side. Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from telesip.config import Settings
from telesip.domain.clock import Clock, SystemClock
from telesip.health import PROBES, probes_server
from telesip.services.dependencies import Dependencies, Rules
from telesip.store import migrate
from telesip.store.crypto import Cipher, load_key
from telesip.store.db import create_engine
from telesip.store.dbclock import DatabaseClock

if TYPE_CHECKING:
    from telesip.doctor import Role

log = logging.getLogger(__name__)


def build_services(settings: Settings, clock: Clock | None = None) -> Dependencies:
    key = load_key(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.data_dir,
    )
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.effective_database_url)
    rules = Rules(
        offer_ttl_seconds=settings.offer_ttl_seconds,
        link_ttl_seconds=settings.link_ttl_seconds,
        default_plan=settings.default_plan,
        default_seats=settings.default_seats,
        lease_ttl_seconds=settings.lease_ttl_seconds,
        import_max_rows=settings.import_max_rows,
        unused_days=settings.unused_days,
        disable_unused=settings.disable_unused,
    )
    if clock is None:
        # the times several processes compare (offers' lifetimes, workers' liveness) are the
        # database's: on PostgreSQL its server's clock, on SQLite this machine's (dbclock.py)
        clock = DatabaseClock(engine) if engine.dialect.name == "postgresql" else SystemClock()
    return Dependencies(engine=engine, cipher=Cipher(key), clock=clock, rules=rules)


@contextlib.asynccontextmanager
async def services_for(settings: Settings, *, upgrade: bool = False) -> AsyncIterator[Dependencies]:
    """The services on the configured database; with ``upgrade`` the schema is checked first
    (:func:`migrate.prepare`: a newer database is refused, an older one migrated unless
    TELESIP_AUTO_MIGRATE=0)."""
    deps = build_services(settings)
    keeping: asyncio.Task[None] | None = None
    try:
        if upgrade:
            await migrate.prepare(deps.engine, auto_migrate=settings.auto_migrate)
        if isinstance(deps.clock, DatabaseClock):
            with contextlib.suppress(SQLAlchemyError, OSError):  # then it reads the wall clock
                await deps.clock.sync()
            keeping = asyncio.create_task(deps.clock.keep_in_sync(), name="database-clock")
        yield deps
    finally:
        if keeping is not None:
            keeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeping
        await deps.engine.dispose()


#: a part of the running service: gets the services and the settings, runs until cancelled
Component = Callable[[Dependencies, Settings], Coroutine[Any, Any, None]]

#: where each part lives; a part whose module is absent from this install is skipped
PARTS = {
    "api": ("telesip.api.app", "serve_api"),
    "bot": ("telesip.bot.app", "run_bot"),
    "worker": ("telesip.workers.service", "run_worker"),
}


def components(settings: Settings, only: set[str] | None = None) -> dict[str, Component]:
    """The parts `telesip run` starts, by what the configuration enables (of ``only``, when
    given: the others are not even imported)."""
    parts: dict[str, Component] = {}
    for name, (module, attr) in PARTS.items():
        if (name == "bot" and settings.bot_token is None) or (
            only is not None and name not in only
        ):
            continue
        try:
            parts[name] = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return parts


def _role(only: set[str] | None) -> Role:
    """The checks a start runs: a single part's, or the whole service's."""
    if only is not None and len(only) == 1:
        part = next(iter(only))
        if part in ("worker", "bot", "api"):
            return part  # type: ignore[return-value]  # one of the literal roles
    return "run"


async def run(settings: Settings, only: set[str] | None = None) -> None:
    """Migrate, then run every enabled part until one fails or the process is stopped.

    SIGTERM stops it like Ctrl-C: each part's cleanup runs (a worker un-REGISTERs and hands
    its leases back at once)."""
    task = asyncio.current_task()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    parts = components(settings, only)
    async with services_for(settings, upgrade=True) as deps:
        from telesip import doctor  # the checks import much; only a start needs them

        # before the probes answer: /readyz must not say ready before the parts are there
        await doctor.log_at_start(settings, _role(only))
        async with probes_server(settings.metrics_bind):
            log.info("telesip running: %s", ", ".join(parts) or "database only")
            with PROBES.part("database", ready=lambda: database_check(deps)):
                if not parts:
                    await asyncio.Event().wait()
                async with asyncio.TaskGroup() as tg:
                    for name, part in parts.items():
                        tg.create_task(part(deps, settings), name=name)


async def database_check(deps: Dependencies) -> str | None:
    """Readiness: the database answers a trivial query."""
    try:
        async with deps.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        return f"unreachable ({type(exc).__name__})"
    return None
