"""What the repositories share: the bound-parameter shorthand and the dialect's INSERT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

# The hot path's statements are built once: building a statement costs about as much CPU as
# running it (bound values go in as parameters; the compiled form is cached by SQLAlchemy).
P = bindparam


def dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
