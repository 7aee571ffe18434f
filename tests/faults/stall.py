"""``python -m tests.faults.stall <telesip arguments>``: the ``telesip`` command, frozen at one
named point of one unit of work so that a test can kill -9 it exactly there (issue 18, item 6).

The point is chosen by the environment, and nothing of it is in the product:

- ``FAULTS_STALL_MATCH``: a regular expression searched in each statement's text followed by
  its parameters (so ``INSERT INTO audit.*'deleted'`` finds the use case's audit row whether
  the action is in the text, as in the PostgreSQL transfer statements, or a parameter);
- ``FAULTS_STALL_AT``: ``statement`` freezes just before that statement runs (what the unit of
  work wrote before it is in its open transaction), ``commit`` at the commit of the connection
  that ran it (everything written, nothing committed);
- ``FAULTS_STALL_MARK``: the file written when the process freezes (the statement in it), which
  the test waits for before it kills.

It hooks every SQLAlchemy engine (``before_cursor_execute``, ``commit``) and asyncpg's connection
methods (the PostgreSQL transfer statements run on the raw connection, COMMIT included). The
freeze is a ``time.sleep`` on the event loop's thread: the whole process stops, as a frozen VM
would, until the kill. Only the first match freezes.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

_MATCH = re.compile(os.environ.get("FAULTS_STALL_MATCH", r"(?!)"), re.S | re.I)
_AT = os.environ.get("FAULTS_STALL_AT", "statement")
_MARK = Path(os.environ.get("FAULTS_STALL_MARK", "/dev/null"))
_armed: set[int] = set()  # driver connections that ran the matching statement (commit mode)
_fired = False


def _freeze(what: str) -> None:
    global _fired
    _fired = True
    _MARK.write_text(what)
    while True:  # until SIGKILL
        time.sleep(3600)


def _statement(conn: object, text: str, params: object) -> None:
    if _fired or not _MATCH.search(f"{text} {params!r}"):
        return
    if _AT == "statement":
        _freeze(f"before: {text}")
    _armed.add(id(conn))


def _commit(conn: object) -> None:
    if not _fired and id(conn) in _armed:
        _freeze("at commit")


def _driver(conn: Any) -> object:
    return conn.connection.driver_connection


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, text: str, params: Any, context: Any, many: bool) -> None:
    _statement(_driver(conn), text, params)


@event.listens_for(Engine, "commit")
def _on_commit(conn: Any) -> None:
    _commit(_driver(conn))


def _hook_asyncpg() -> None:
    try:
        from asyncpg.connection import Connection
    except ImportError:  # the 'pg' extra is not installed: SQLite only
        return
    for name in ("execute", "fetch", "fetchrow", "fetchval"):
        original = getattr(Connection, name)

        async def hooked(self: Any, query: str, *args: Any, _o: Any = original, **kw: Any) -> Any:
            if query.strip().upper() == "COMMIT":
                _commit(self)
            else:
                _statement(self, query, args)
            return await _o(self, query, *args, **kw)

        setattr(Connection, name, hooked)


_hook_asyncpg()

if __name__ == "__main__":
    from telesip.cli import main

    sys.argv[0] = "telesip"
    main()
