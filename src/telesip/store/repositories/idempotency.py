"""Idempotency keys' rows: the claim of a request and the stored answer (see
``telesip.services.idempotency`` for the protocol). The claim is ``INSERT ... ON CONFLICT DO
NOTHING`` on the (owner, key) primary key, so exactly one of two racing requests inserts.

The claim and the answer run on every POST that carries a key, so their statements are built
once (values as bound parameters): building and keying a statement per request cost about as
much CPU as sending it.

On PostgreSQL both run on the asyncpg connection itself, each its own one-statement
transaction committed without waiting for the WAL flush (``synchronous_commit`` off, set
inside the statement: no extra round trip): a keyed request used to pay two flushes over an
unkeyed one. What that risks, and why it is safe, is in ``telesip.services.idempotency``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.readmodels import IdempotencyRecord
from telesip.store import tables
from telesip.store.fast_reads import asyncpg_of, on_driver
from telesip.store.repositories.common import dialect_insert

_K = tables.idempotency_keys
_CLAIMS: dict[str, Any] = {}  # dialect name -> INSERT ... ON CONFLICT DO NOTHING
_FINISH = (
    update(_K)
    .where(_K.c.owner == bindparam("b_owner"), _K.c.key == bindparam("b_key"))
    .values(
        state="done",
        status=bindparam("b_status"),
        headers=bindparam("b_headers"),
        body=bindparam("b_body"),
    )
)

# PostgreSQL, on the asyncpg connection itself (SQLAlchemy's execution cost more CPU than the
# round trip). set_config(..., is_local => true) turns synchronous_commit off for the
# statement's own transaction: the setting is read at its commit.
_PG_CLAIM = """
INSERT INTO idempotency_keys (owner, key, fingerprint, state, created_at, locked_until, expires_at)
SELECT $1, $2, $3, 'running', $4, $5, $6
WHERE set_config('synchronous_commit', 'off', true) = 'off'
ON CONFLICT (owner, key) DO NOTHING
"""
_PG_FINISH = """
UPDATE idempotency_keys SET state = 'done', status = $3, headers = $4::json, body = $5
WHERE owner = $1 AND key = $2 AND set_config('synchronous_commit', 'off', true) = 'off'
"""


def _claim_statement(conn: AsyncConnection) -> Any:
    name = conn.dialect.name
    if name not in _CLAIMS:
        insert = dialect_insert(conn, _K).on_conflict_do_nothing(index_elements=["owner", "key"])
        _CLAIMS[name] = insert
    return _CLAIMS[name]


def _db_time(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)  # as tables.UTCDateTime stores it


class IdempotencyKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, claim: dict[str, Any]) -> bool:
        """Insert the claim unless the key exists; True when this one inserted it."""
        driver = asyncpg_of(self.conn)
        if driver is not None:
            times = [_db_time(claim[c]) for c in ("created_at", "locked_until", "expires_at")]
            args = [claim["owner"], claim["key"], claim["fingerprint"], *times]
            status = await on_driver(driver.execute, _PG_CLAIM, *args)
            return bool(status == "INSERT 0 1")
        inserted = await self.conn.execute(_claim_statement(self.conn), claim)
        return inserted.rowcount == 1

    async def get_locked(self, owner: str, key: str) -> IdempotencyRecord | None:
        """The key's record, its row locked on PostgreSQL (SQLite's writer lock serialises
        already)."""
        k = tables.idempotency_keys
        stmt = select(
            k.c.fingerprint,
            k.c.state,
            k.c.expires_at,
            k.c.locked_until,
            k.c.status,
            k.c.headers,
            k.c.body,
        ).where(k.c.owner == owner, k.c.key == key)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).one_or_none()
        return None if row is None else IdempotencyRecord(*row)

    async def take_over(self, claim: dict[str, Any], *, gone: bool) -> None:
        """Claim again a key whose row expired, whose process died, or (``gone``) that was
        deleted since."""
        k = tables.idempotency_keys
        values = {**claim, "status": None, "headers": None, "body": None}
        await self.conn.execute(
            update(k).where(k.c.owner == claim["owner"], k.c.key == claim["key"]).values(**values)
        )
        if gone:
            await self.conn.execute(dialect_insert(self.conn, k).values(**claim))

    async def finish(
        self, owner: str, key: str, status: int, headers: list[list[str]], body: bytes
    ) -> None:
        driver = asyncpg_of(self.conn)
        if driver is not None:
            answer = (status, json.dumps(headers), body)
            await on_driver(driver.execute, _PG_FINISH, owner, key, *answer)
            return
        values = {"b_status": status, "b_headers": headers, "b_body": body}
        await self.conn.execute(_FINISH, {"b_owner": owner, "b_key": key, **values})

    async def abandon(self, owner: str, key: str) -> None:
        k = tables.idempotency_keys
        await self.conn.execute(
            delete(k).where(k.c.owner == owner, k.c.key == key, k.c.state == "running")
        )

    async def purge(self, now: datetime) -> None:
        k = tables.idempotency_keys
        await self.conn.execute(delete(k).where(k.c.expires_at <= now))
