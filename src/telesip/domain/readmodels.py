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
