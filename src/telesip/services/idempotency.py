"""Idempotent retries (IETF draft "The Idempotency-Key HTTP Header Field"): the first answer to
a request sent with a key is stored for 24 h in the database, so that every API process answers
a retry with it instead of doing the work again.

``begin`` claims the key: the first request inserts a "running" row and goes on (that one
statement, committed by itself: on PostgreSQL no BEGIN/COMMIT round trips); a retry finds the
row (in a transaction, locked) and gets the stored answer (``Stored``), or ``KeyInProgress``
while the first is still running, or ``KeyReused`` when the same key came with another
request. Two requests racing with one key cannot both go on: the insert is ``ON CONFLICT DO
NOTHING`` on the (owner, key) primary key, so exactly one inserts. ``finish`` stores the
answer (one UPDATE, committed by itself); ``abandon`` drops the claim (a server error, or a
request that never got authenticated) so that a retry runs afresh.

Cost: two statements, each its own one-statement transaction, and on PostgreSQL neither waits
for the WAL flush (``synchronous_commit`` off, see the repository): a keyed request costs two
round trips more than an unkeyed one, not two disk flushes. Why the claim may be committed
that way: a claim is visible to every other session as soon as it commits (the race above
holds), and the operation's own commit, made after it and flushed as usual, flushes the WAL up
to and past the claim's commit record. So after a crash of PostgreSQL either the claim
survived, or the operation's effect did not survive either and a retry rightly runs afresh.
(An operation that writes nothing to the database and acts outside it, such as a test webhook
delivery, may run again if PostgreSQL crashes within its WAL writer's delay, ~0.6 s at most
by default, of the claim.)

Stuck claims: a claim still "running" when its lease (60 s) ends is taken over by the next
retry, which runs the request again. That happens when the API process died between the claim
and the answer, or when PostgreSQL crashed after the operation committed but before its
unflushed answer reached the disk (the window is the WAL writer's delay): the one case where
a retry may do the work twice, as it could already when the process died after the operation
committed. A claim never blocks a key for longer than its lease.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telesip.domain.errors import KeyInProgress, KeyReused
from telesip.services.dependencies import Dependencies

TTL = timedelta(hours=24)
LEASE = timedelta(seconds=60)  # a running request's claim; a crashed process's ends with it
PURGE_EVERY = 60.0  # seconds between sweeps of expired answers (per process)
_last_purge = 0.0


@dataclass(frozen=True)
class Stored:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


async def begin(deps: Dependencies, owner: str, key: str, fingerprint: str) -> Stored | None:
    """Claim ``key`` for this request: None to go on, or the stored answer of an earlier one."""
    await _purge(deps)
    async with deps.uow(single_statement=True) as uow:  # the insert alone is the claim
        now = uow.now
        claim = {
            "owner": owner,
            "key": key,
            "fingerprint": fingerprint,
            "state": "running",
            "created_at": now,
            "locked_until": now + LEASE,
            "expires_at": now + TTL,
        }
        if await uow.idempotency.claim(claim):
            await uow.commit()
            return None
    async with deps.uow() as uow:  # a retry: the row read locked, maybe taken over
        row = await uow.idempotency.get_locked(owner, key)
        stale = row is not None and (
            row.expires_at <= now or (row.state == "running" and row.locked_until <= now)
        )
        if row is None or stale:  # gone since, expired, or its process died: take it over
            await uow.idempotency.take_over(claim, gone=row is None)
            await uow.commit()
            return None
    if row.fingerprint != fingerprint:
        raise KeyReused()
    if row.state != "done":
        raise KeyInProgress()
    assert row.status is not None  # ``finish`` stores the status with the state "done"
    headers = [(str(n), str(v)) for n, v in row.headers or []]
    return Stored(row.status, headers, deps.cipher.unseal(row.body) if row.body else b"")


async def finish(deps: Dependencies, owner: str, key: str, answer: Stored) -> None:
    """Store the answer a retry gets (one UPDATE), its body sealed with the service key: an
    answer may hold a secret shown once (a new webhook's signing key)."""
    body = deps.cipher.seal(answer.body)
    async with deps.uow(single_statement=True) as uow:
        await uow.idempotency.finish(
            owner, key, answer.status, [list(h) for h in answer.headers], body
        )
        await uow.commit()


async def abandon(deps: Dependencies, owner: str, key: str) -> None:
    """Drop the claim: the request did nothing a retry must not do again."""
    async with deps.uow() as uow:
        await uow.idempotency.abandon(owner, key)
        await uow.commit()


async def _purge(deps: Dependencies) -> None:
    """Delete expired answers, at most once a minute per process."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY:
        return
    _last_purge = time.monotonic()
    async with deps.uow() as uow:
        await uow.idempotency.purge(uow.now)
        await uow.commit()


def stored_headers(headers: Any) -> list[tuple[str, str]]:
    """The headers of an answer worth replaying (the body's type and language, Location, ETag)."""
    keep = {"content-type", "content-language", "location", "etag"}
    return [(n, v) for n, v in headers if n.lower() in keep]
