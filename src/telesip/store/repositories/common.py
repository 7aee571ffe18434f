"""What the repositories share: the dialect's INSERT.

The hot path's statements are built once, at import, with ``bindparam`` placeholders: building a
statement costs about as much CPU as running it (the compiled form is cached by SQLAlchemy)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def dialect_insert(conn: AsyncConnection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
