"""The store's edge names a full disk (``store/failures.py``): SQLite's SQLITE_FULL, PostgreSQL's
disk_full (SQLSTATE 53100) and ENOSPC become ``StorageFull``, anything else stays
``StorageUnavailable``; the ERROR line names where, without credentials, at most once a minute.
(A real full disk: tests/faults/test_disk_full.py.)"""

from __future__ import annotations

import errno
import logging
import sqlite3

import pytest
from sqlalchemy.exc import OperationalError

from telesip.domain.errors import StorageFull, StorageUnavailable
from telesip.store import failures
from telesip.store.db import create_engine


class _AdaptedPgError(Exception):
    """What SQLAlchemy's asyncpg adapter raises: the server's SQLSTATE as ``sqlstate``."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _wrapped(orig: Exception) -> OperationalError:
    try:
        try:
            raise orig
        except Exception as e:
            raise OperationalError("INSERT ...", {}, e) from e
    except OperationalError as wrapped:
        return wrapped


@pytest.fixture(autouse=True)
def _fresh_log_throttle() -> None:
    failures._logged.clear()


async def test_disk_full_from_either_driver_or_the_os_is_storage_full(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pg = create_engine("postgresql+asyncpg://telesip:hunter2@db.internal:5433/telesip")
    lite = create_engine("sqlite+aiosqlite:////var/lib/telesip/telesip.db")
    full_sqlite = sqlite3.OperationalError("database or disk is full")
    full_pg = _AdaptedPgError("could not extend file: No space left on device", "53100")
    with caplog.at_level(logging.ERROR):
        assert isinstance(failures.storage_error(_wrapped(full_sqlite), lite), StorageFull)
        assert isinstance(failures.storage_error(_wrapped(full_pg), pg), StorageFull)
        enospc = OSError(errno.ENOSPC, "No space left on device")
        assert isinstance(failures.storage_error(enospc, lite), StorageFull)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # the second SQLite failure within the minute is counted
    assert "data directory /var/lib/telesip" in lines[0]
    assert "PostgreSQL database telesip at db.internal:5433" in lines[1]
    assert "hunter2" not in lines[1] and "telesip:" not in lines[1]
    assert all(r.exc_info is None for r in caplog.records)
    await pg.dispose()
    await lite.dispose()


async def test_other_failures_stay_unavailable() -> None:
    lite = create_engine("sqlite+aiosqlite:////var/lib/telesip/telesip.db")
    for orig in (
        sqlite3.OperationalError("database is locked"),
        _AdaptedPgError("the database system is starting up", "57P03"),
    ):
        error = failures.storage_error(_wrapped(orig), lite)
        assert type(error) is StorageUnavailable
    refused = OSError(errno.ECONNREFUSED, "Connection refused")
    assert type(failures.storage_error(refused, lite)) is StorageUnavailable
    said = StorageUnavailable()
    assert failures.storage_error(said, lite) is said
    await lite.dispose()


def test_a_full_disk_is_waited_out_as_an_unreachable_database_is() -> None:
    # the workers' loops, the bot and the API catch StorageUnavailable: a full disk is one
    assert issubclass(StorageFull, StorageUnavailable)
