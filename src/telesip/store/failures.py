"""What a driver's failure means, at the store's edge: a full disk or a database that is away.

``storage_error(exc, engine)`` is the one translation of a database failure (SQLAlchemy's
``DBAPIError``, the drivers' own errors, ``OSError``) into the error tree: ``StorageFull`` when
the disk is full (SQLite's SQLITE_FULL "database or disk is full", PostgreSQL's ``disk_full``,
SQLSTATE 53100, or ENOSPC), else ``StorageUnavailable``. Only the unit of work calls it (its
exit sees every failure of a use case, including the ones a repository or the hot path already
called ``StorageUnavailable``: the driver's error is their cause).

A full disk is for the operator, not the person: it is logged as an ERROR naming the data
directory (SQLite) or the database (PostgreSQL), one line without a traceback, at most once a
``LOG_EVERY`` seconds per database while it lasts, with the number of writes refused since.
Nothing here costs a use case that succeeds anything.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from telesip.domain.errors import StorageFull, StorageUnavailable

log = logging.getLogger(__name__)

DISK_FULL_SQLSTATE = "53100"  # PostgreSQL's disk_full
LOG_EVERY = 60.0  # seconds between two ERROR lines about the same full disk

# where -> (monotonic time of the last line, writes refused since)
_logged: dict[str, tuple[float, int]] = {}


def _causes(exc: BaseException | None) -> list[BaseException]:
    """The error, the driver's error SQLAlchemy wraps, and their causes (a few levels)."""
    found: list[BaseException] = []
    while exc is not None and len(found) < 8:
        found.append(exc)
        orig = getattr(exc, "orig", None)
        if isinstance(orig, BaseException):
            found.append(orig)
        exc = exc.__cause__
    return found


def is_disk_full(exc: BaseException | None) -> bool:
    for e in _causes(exc):
        if DISK_FULL_SQLSTATE in (getattr(e, "sqlstate", None), getattr(e, "pgcode", None)):
            return True
        if isinstance(e, sqlite3.Error):
            code = getattr(e, "sqlite_errorcode", None)
            if (isinstance(code, int) and code & 0xFF == sqlite3.SQLITE_FULL) or (
                "database or disk is full" in str(e)
            ):
                return True
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
    return False


def where(engine: AsyncEngine) -> str:
    """The data directory of a SQLite database, or a PostgreSQL database's name and server
    (never its credentials)."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        path = url.database or ""
        return f"data directory {os.path.dirname(os.path.abspath(path)) if path else '(memory)'}"
    return f"PostgreSQL database {url.database} at {url.host or 'localhost'}:{url.port or 5432}"


def storage_error(exc: BaseException, engine: AsyncEngine) -> StorageUnavailable:
    """The error tree's word for ``exc``, a database failure (see the module docstring)."""
    if not is_disk_full(exc):
        return exc if isinstance(exc, StorageUnavailable) else StorageUnavailable()
    place = where(engine)
    now = time.monotonic()
    last, refused = _logged.get(place, (float("-inf"), 0))
    if now - last >= LOG_EVERY:
        driver = next((str(e) for e in _causes(exc) if not isinstance(e, StorageUnavailable)), "")
        since = f"; {refused} more writes refused since the last line" if refused else ""
        log.error(
            "the disk is full (%s): writes fail until space is freed; %s%s",
            place,
            driver.splitlines()[0] if driver else type(exc).__name__,
            since,
        )
        _logged[place] = (now, 0)
    else:
        _logged[place] = (last, refused + 1)
    return StorageFull()
