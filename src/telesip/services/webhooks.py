"""Webhooks: operators register URLs; account events reach them from the audit table.

Design: every use case writes an audit record in its own transaction, so the audit table is
the outbox. :func:`fan_out` tails it with a cursor stored in the database (it survives restarts
and works across processes: the cursor row is locked while a batch is fanned out) and writes
one delivery per matching webhook; :func:`claim_due` and :func:`record_attempt` drive the
delivery log with retries and exponential backoff. The operation that caused an event is never
blocked: it only wrote its audit record.

Audit ids are committed out of order on PostgreSQL (a sequence hands them out at insert), so
the tail stops at a gap until the gap is ``gap_grace`` seconds old; then it is taken for a
rolled-back transaction and skipped.
"""

from __future__ import annotations

import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telesip.domain import errors
from telesip.domain import webhook_signature as signing
from telesip.domain.errors import WebhookNotFound
from telesip.domain.operators import Scope
from telesip.domain.readmodels import AuditRecord, Delivery, DueDelivery, Webhook
from telesip.domain.settings import Secret
from telesip.services.dependencies import Dependencies

#: event name -> the audit actions that make it
EVENT_ACTIONS: dict[str, tuple[str, ...]] = {
    "created": ("created",),
    "registered": (),  # from "registration" records, by state
    "auth_failed": (),
    "assigned": ("assigned", "link_opened", "reassigned"),
    "transferred": ("received", "transferred_back"),
    "returned": ("returned_by_user", "sent_back", "taken_back"),
    "deleted": ("deleted",),
    "call_started": ("call_started", "call_requested"),
    "call_ended": ("call_ended",),
}
EVENTS = tuple(EVENT_ACTIONS)
_ACTION_EVENT = {a: e for e, actions in EVENT_ACTIONS.items() for a in actions}
_REG_EVENT = {"registered": "registered", "auth_failed": "auth_failed"}

MAX_WEBHOOKS = 20
MAX_ATTEMPTS = 8
BACKOFF_BASE = 10.0  # seconds: 10, 20, 40, ... capped
BACKOFF_CAP = 3600.0


#: an http(s) URL in ASCII (an international domain name in its xn-- form), no user info
URL_PATTERN = r"^https?://[A-Za-z0-9._~%!$&'()*+,;=-]+(?::[0-9]{1,5})?(?:[/?#][!-~]*)?$"
URL = re.compile(URL_PATTERN)


_RNG = random.Random()


@dataclass(frozen=True)
class RegisteredWebhook:
    webhook: Webhook
    secret: str  # shown once; stored encrypted, used to sign


def validate_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if (
        len(url) > 2048
        or not URL.match(url)
        or parts.scheme not in ("http", "https")
        or not parts.hostname
    ):
        raise errors.InvalidInput("webhook URL must be an http:// or https:// URL")
    return url


async def register_webhook(
    deps: Dependencies, operator: str, scope: Scope, url: str, events: Sequence[str] = ()
) -> RegisteredWebhook:
    url = validate_url(url)
    unknown = set(events) - set(EVENTS)
    if unknown:
        raise errors.InvalidInput(f"unknown events: {', '.join(sorted(unknown))}")
    secret = signing.new_secret()
    async with deps.uow() as uow:
        if await uow.webhooks.count_of(operator) >= MAX_WEBHOOKS:
            raise errors.InvalidInput(f"at most {MAX_WEBHOOKS} webhooks per operator")
        hook = await uow.webhooks.add(
            {
                "operator": operator,
                "url": url,
                "secret_enc": deps.cipher.encrypt(Secret(secret)),
                "events": sorted(set(events)),
                "scope": scope.to_json(),
                "since_audit_id": await uow.audit.last_id(),
                "enabled": True,
                "created_at": uow.now,
            }
        )
        await uow.record(
            "webhook_created", None, None, {"webhook_id": hook.id, "operator": operator}
        )
        await uow.commit()
    return RegisteredWebhook(hook, secret)


async def list_webhooks(deps: Dependencies, operator: str) -> list[Webhook]:
    async with deps.uow() as uow:
        return await uow.webhooks.of_operator(operator)


async def delete_webhook(deps: Dependencies, operator: str, webhook_id: int) -> None:
    async with deps.uow() as uow:
        if not await uow.webhooks.delete(webhook_id, operator):
            raise WebhookNotFound(webhook_id=webhook_id)
        await uow.record("webhook_deleted", None, None, {"webhook_id": webhook_id})
        await uow.commit()


async def list_deliveries(
    deps: Dependencies,
    operator: str,
    webhook_id: int,
    *,
    limit: int = 50,
    before_id: int | None = None,
) -> list[Delivery]:
    """The delivery log of one webhook, newest first, keyset-paged."""
    if not 1 <= limit <= 500:
        raise errors.InvalidInput("limit must be between 1 and 500")
    async with deps.uow() as uow:
        if await uow.webhooks.operator_of(webhook_id) != operator:
            raise WebhookNotFound(webhook_id=webhook_id)
        return await uow.webhooks.deliveries(webhook_id, limit=limit, before_id=before_id)


def event_of(action: str, details: dict[str, Any]) -> str | None:
    if action == "registration":
        return _REG_EVENT.get(str(details.get("state")))
    return _ACTION_EVENT.get(action)


class _GapTracker:
    """Remembers since when the tail has been waiting at a gap (monotonic time)."""

    def __init__(self) -> None:
        self.at_cursor: int | None = None
        self.since = 0.0

    def waited(self, cursor: int) -> float:
        now = time.monotonic()
        if self.at_cursor != cursor:
            self.at_cursor, self.since = cursor, now
        return now - self.since


_gaps = _GapTracker()


async def fan_out(deps: Dependencies, *, batch: int = 500, gap_grace: float = 10.0) -> int:
    """Turn new audit records into deliveries for the matching webhooks; returns how many."""
    async with deps.uow() as uow:
        cursor = await uow.webhooks.cursor()
        if cursor is None:  # the migration inserts it; be forgiving if someone deleted it
            cursor = 0
            await uow.webhooks.add_cursor()
        hooks = await uow.webhooks.enabled()
        if not hooks:  # nobody listens: skip ahead without reading the log
            last = await uow.audit.last_id()
            if last != cursor:
                await uow.webhooks.move_cursor(last)
                await uow.commit()
            return 0
        rows = await uow.audit.after(cursor, batch)
        taken = []
        expected = cursor + 1
        for row in rows:
            if row.id != expected and _gaps.waited(expected - 1) < gap_grace:
                break  # an earlier transaction may still commit its record
            taken.append(row)
            expected = row.id + 1
        if not taken:
            return 0
        current = await uow.accounts.holders({r.account_id for r in taken if r.account_id})
        owner_at = _owners_at(taken, {k: v[0] for k, v in current.items()})
        made = 0
        for row in taken:
            event = event_of(row.action, row.details)
            if event is None or row.account_id is None:
                continue
            involved = {
                o
                for o in (owner_at.get(row.id), row.details.get("from_owner_id"))
                if isinstance(o, int)
            }
            for hook in hooks:
                if row.id <= hook.since_audit_id or (hook.events and event not in hook.events):
                    continue
                if not any(hook.scope.covers_account(row.account_id, o) for o in involved):
                    continue
                delivery_id = str(uuid.uuid4())
                payload = {
                    "event": event,
                    "delivery_id": delivery_id,
                    "occurred_at": row.at.isoformat(),
                    "account_id": row.account_id,
                    "actor_id": row.actor_id,
                    "owner_id": owner_at.get(row.id),
                    "details": row.details,
                }
                await uow.webhooks.add_delivery(
                    {
                        "webhook_id": hook.id,
                        "delivery_id": delivery_id,
                        "audit_id": row.id,
                        "event": event,
                        "payload": payload,
                        "state": "pending",
                        "attempts": 0,
                        "next_attempt_at": uow.now,
                        "created_at": uow.now,
                    }
                )
                made += 1
        await uow.webhooks.move_cursor(taken[-1].id)
        await uow.commit()
    return made


def _owners_at(rows: Sequence[AuditRecord], current: dict[int, int]) -> dict[int, int | None]:
    """Who owned each record's account right after it: walk back from the current owners
    (or the owner a deletion recorded) through the ownership moves in between."""
    owner: dict[int, int | None] = dict(current)
    at: dict[int, int | None] = {}
    for row in reversed(rows):
        if row.account_id is None:
            continue
        if row.action == "deleted":
            owner[row.account_id] = row.details.get("owner_id", row.actor_id)
        at[row.id] = owner.get(row.account_id)
        if row.action in ("received", "transferred_back"):
            owner[row.account_id] = row.details.get("from_owner_id")
    return at


async def claim_due(
    deps: Dependencies, *, limit: int = 20, lease_seconds: int = 60
) -> list[DueDelivery]:
    """Take up to ``limit`` due deliveries; they are leased so no other process sends them."""
    async with deps.uow() as uow:
        lease_until = uow.now + timedelta(seconds=lease_seconds)
        due = await uow.webhooks.take_due(uow.now, limit, lease_until)
        if due:
            await uow.commit()
    return due


def backoff(attempt: int) -> float:
    """The nominal wait before retry ``attempt + 1`` (doubling, capped)."""
    return float(min(BACKOFF_BASE * 2 ** (attempt - 1), BACKOFF_CAP))


def jittered(attempt: int, rng: random.Random = _RNG) -> float:
    """The wait actually taken: 75-100 % of the nominal one, so that the retries of many
    deliveries that failed together (a receiver was down) spread out instead of arriving in
    one burst; never longer than the nominal wait."""
    return backoff(attempt) * rng.uniform(0.75, 1.0)


async def record_attempt(
    deps: Dependencies, delivery: DueDelivery, status: int | None, error: str | None
) -> str:
    """Store one attempt's outcome; returns the delivery's new state."""
    ok = status is not None and 200 <= status < 300
    async with deps.uow() as uow:
        values: dict[str, Any] = {"last_status": status, "last_error": (error or None)}
        if values["last_error"]:
            values["last_error"] = values["last_error"][:255]
        if ok:
            state = "delivered"
            values |= {"state": state, "delivered_at": uow.now, "next_attempt_at": None}
        elif delivery.attempt >= MAX_ATTEMPTS:
            state = "failed"
            values |= {"state": state, "next_attempt_at": None}
        else:
            state = "pending"
            retry_at = uow.now + timedelta(seconds=jittered(delivery.attempt))
            values |= {"next_attempt_at": retry_at}
        await uow.webhooks.record_attempt(delivery.id, values)
        await uow.commit()
    return state


async def delivery_counts(deps: Dependencies) -> dict[str, int]:
    async with deps.uow() as uow:
        return await uow.webhooks.delivery_counts()
