"""Idempotency keys' rows: the claim of a request and the stored answer (see
``telesip.services.idempotency`` for the protocol). The claim is ``INSERT ... ON CONFLICT DO
NOTHING`` on the (owner, key) primary key, so exactly one of two racing requests inserts.

The claim and the answer run on every POST that carries a key, so their statements are built
once (values as bound parameters): building and keying a statement per request cost about as
much CPU as sending it.

On PostgreSQL both are committed without waiting for the WAL flush (``synchronous_commit``
off for their own one-statement transaction, set inside the statement: no extra round trip),
which is what a keyed request used to pay twice over an unkeyed one. What that risks, and why
it is safe, is in ``telesip.services.idempotency``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from telesip.domain.readmodels import IdempotencyRecord
from telesip.store import tables
from telesip.store.repositories.common import dialect_insert

_K = tables.idempotency_keys
_CLAIMS: dict[str, Any] = {}  # dialect name -> INSERT ... ON CONFLICT DO NOTHING
_FINISHES: dict[str, Any] = {}  # dialect name -> UPDATE with the answer
_CLAIMED = ("owner", "key", "fingerprint", "state", "created_at", "locked_until", "expires_at")

# PostgreSQL: turns ``synchronous_commit`` off for the statement's own transaction (an
# uncorrelated subquery, run once; set_config(..., is_local => true) lasts until that
# transaction ends, and the setting is read at its commit)
_ASYNC_COMMIT = (
    select(func.set_config("synchronous_commit", "off", True)).scalar_subquery() == "off"
)


def _claim_statement(conn: AsyncConnection) -> Any:
    name = conn.dialect.name
    if name not in _CLAIMS:
        insert = dialect_insert(conn, _K)
        if name == "postgresql":
            values = [bindparam(c, type_=_K.c[c].type) for c in _CLAIMED]
            insert = insert.from_select(list(_CLAIMED), select(*values).where(_ASYNC_COMMIT))
        _CLAIMS[name] = insert.on_conflict_do_nothing(index_elements=["owner", "key"])
    return _CLAIMS[name]


def _finish_statement(conn: AsyncConnection) -> Any:
    name = conn.dialect.name
    if name not in _FINISHES:
        where = [_K.c.owner == bindparam("b_owner"), _K.c.key == bindparam("b_key")]
        if name == "postgresql":
            where.append(_ASYNC_COMMIT)
        _FINISHES[name] = (
            update(_K)
            .where(*where)
            .values(
                state="done",
                status=bindparam("b_status"),
                headers=bindparam("b_headers"),
                body=bindparam("b_body"),
            )
        )
    return _FINISHES[name]


class IdempotencyKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, claim: dict[str, Any]) -> bool:
        """Insert the claim unless the key exists; True when this one inserted it."""
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
        answer = {"b_status": status, "b_headers": headers, "b_body": body}
        statement = _finish_statement(self.conn)
        await self.conn.execute(statement, {"b_owner": owner, "b_key": key, **answer})

    async def abandon(self, owner: str, key: str) -> None:
        k = tables.idempotency_keys
        await self.conn.execute(
            delete(k).where(k.c.owner == owner, k.c.key == key, k.c.state == "running")
        )

    async def purge(self, now: datetime) -> None:
        k = tables.idempotency_keys
        await self.conn.execute(delete(k).where(k.c.expires_at <= now))
