"""PostgreSQL connections kept between units of work, checked out of SQLAlchemy's pool.

Taking a connection from the async engine and giving it back costs ~37 µs of CPU (two
greenlet switches, the pool's checkout and checkin with their events, a Connection and an
AsyncConnection made each time); a step of the transfer cycle costs ~250 µs in all. So a unit
of work that ends cleanly, with no transaction open, leaves its connection here, and the next
unit of work of the same kind (the isolation level it set: read-only and single-statement ones
run in autocommit) takes it back without the pool; one of another kind when none of its own
waits, after setting the level, so that parking never makes the pool open a connection while
others wait here. At most ``PER_KIND`` wait per kind, and no more than a quarter of the pool's
size (none with a pool of fewer than four): the rest go back to the pool, which keeps at least
half its size and its overflow for everything else. They are bound to the loop that parked
them; disposing of the engine closes them, and a connection found broken (a database restart)
closes all of them, as the pool would drop its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

PER_KIND = 8


class Parking:
    def __init__(self, loop: asyncio.AbstractEventLoop, pool_size: int) -> None:
        self.loop = loop
        self.per_kind = min(PER_KIND, pool_size // 4)
        self._free: dict[str, list[AsyncConnection]] = {}

    def take(self, kind: str) -> tuple[AsyncConnection, str] | None:
        """A parked connection and its kind: one of ``kind`` if any waits, else one of another
        kind (for the caller to set to ``kind``: cheaper than the pool, and no connection is
        opened while others wait here); None when none waits."""
        for free_kind in (kind, *(k for k in self._free if k != kind)):
            free = self._free.get(free_kind)
            while free:
                conn = free.pop()
                sync = conn.sync_connection
                if sync is not None and not sync.invalidated and not sync.closed:
                    return conn, free_kind
        return None

    def park(self, kind: str, conn: AsyncConnection) -> bool:
        """Keep ``conn`` (no transaction open on it) for the next unit of work of ``kind``;
        False when as many wait already (then close it)."""
        free = self._free.setdefault(kind, [])
        if len(free) >= self.per_kind:
            return False
        free.append(conn)
        return True

    def drain(self) -> list[AsyncConnection]:
        """Every parked connection, which the caller now closes."""
        conns = [conn for free in self._free.values() for conn in free]
        self._free.clear()
        return conns


_parkings: weakref.WeakKeyDictionary[AsyncEngine, Parking] = weakref.WeakKeyDictionary()


def parking(engine: AsyncEngine) -> Parking | None:
    """The parking of ``engine`` on the running loop: None when its connections belong to
    another loop (then units of work use the pool)."""
    loop = asyncio.get_running_loop()
    found = _parkings.get(engine)
    if found is None:
        size = getattr(engine.sync_engine.pool, "size", None)
        found = _parkings[engine] = Parking(loop, size() if callable(size) else 0)
        event.listen(engine.sync_engine, "engine_disposed", _on_dispose(found))
    return found if found.loop is loop else None


def _on_dispose(lot: Parking) -> Any:
    def close_parked(_engine: Any) -> None:
        # in the dispose's greenlet: closing a connection may wait for the driver
        for conn in lot.drain():
            sync = conn.sync_connection
            if sync is not None and not sync.closed:
                sync.invalidate()  # closes the driver's connection; the pool was disposed
                sync.close()

    return close_parked


async def discard_all(engine: AsyncEngine) -> None:
    """Close every parked connection of ``engine``: one was found broken, so are the others,
    likely (a database restart)."""
    lot = _parkings.get(engine)
    if lot is None or lot.loop is not asyncio.get_running_loop():
        return
    for conn in lot.drain():
        with contextlib.suppress(Exception):  # closing a dead connection: nothing to say
            await conn.invalidate()
            await conn.close()
