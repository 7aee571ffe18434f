"""Read models: what listings, cards, logs and the outbox show. Plain data built by the store
(``telesip.store.repositories``) in as few statements as it can, read by the services, the bot
and the API; no rules, no database types.

``AccountSummary`` is a named tuple because a listing builds a thousand of them; ``CardRead``
decrypts the account's settings (and so its password) only when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from telesip.domain.calls import CommandKind
from telesip.domain.model import Account, Offer, Payer
from telesip.domain.operators import Scope
from telesip.domain.settings import Secret


class AccountSummary(NamedTuple):
    """A line of /softphone or of the API list: no password, cheap to build in bulk (a
    named tuple: a thousand of them are built per listing)."""

    id: int
    owner_id: int
    user_id: int
    owner_label: str
    user_label: str
    login: str
    domain: str
    transport: str
    port: int | None
    enabled: bool
    payer: Payer
    via_link: bool
    duplicate: bool
    reg_state: str
    reg_code: int | None
    reg_error: str | None
    worker: str | None

    @property
    def assigned(self) -> bool:
        return self.user_id != self.owner_id


@dataclass(frozen=True)
class CardRead:
    """What the account card shows, read in one statement; the settings (and so the
    password) are decrypted only when ``account()`` is called."""

    summary: AccountSummary
    pending: Offer | None
    firewall: list[str]
    recording: bool
    load_account: Callable[[], Account] = field(repr=False)

    def account(self) -> Account:
        return self.load_account()


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor_id: int | None
    account_id: int | None
    action: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Command:
    """A command for the worker running a call (a key to send, a hang-up)."""

    id: int
    call_id: int
    kind: CommandKind
    arg: str


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """A message the bot owes someone (a call's notice, a recording), sent with retries."""

    id: int
    chat_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Webhook:
    """An operator's webhook: where events go, which (``events`` empty: every one) and for what
    (``scope``: the key's that registered it); audit records up to ``since_audit_id`` were
    there before it and are not sent."""

    id: int
    operator: str
    url: str
    events: tuple[str, ...]
    enabled: bool
    created_at: datetime
    scope: Scope
    since_audit_id: int


@dataclass(frozen=True)
class Delivery:
    """A line of a webhook's delivery log."""

    id: int
    webhook_id: int
    delivery_id: str
    event: str
    account_id: int | None
    state: str  # pending, delivered, failed
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class DueDelivery:
    """A delivery to send now, leased to this process, with its webhook's URL and secret."""

    id: int
    delivery_id: str
    event: str
    attempt: int
    url: str
    secret: Secret
    payload: dict[str, Any]


@dataclass(frozen=True)
class WorkerRecord:
    """A worker of the fleet as stored: its name and pool, whether it is remote (its
    credential's hash, never the credential) or shared, its running instance and heartbeat."""

    id: int
    name: str
    pool: str | None
    remote: bool
    shared: bool
    owner_id: int | None  # an administrator's own worker serves only their accounts
    credential_hash: str | None
    instance: str | None
    last_seen: datetime | None
    revoked_at: datetime | None
    addresses: list[str]
    stats: dict[str, int]


@dataclass(frozen=True)
class IdempotencyRecord:
    """An idempotency key's row: the request it claimed (its fingerprint), whether it is
    running (until ``locked_until``) or done, and the stored answer."""

    fingerprint: str
    state: str  # running, done
    expires_at: datetime
    locked_until: datetime
    status: int | None
    headers: list[list[str]] | None
    body: bytes | None
