"""Domain events: facts the services publish after a transaction commits.

Subscribers are notifications (the bot tells the affected person), the SIP workers (register,
re-register, unregister) and webhooks. Each event is also written as an audit record in the same
transaction, so a process that missed the in-process publication can read it back.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    account_id: int
    actor_id: int | None  # None: the operator (CLI, API key without a user)


@dataclass(frozen=True)
class AccountCreated(Event):
    owner_id: int


@dataclass(frozen=True)
class SettingsChanged(Event):
    user_id: int
    registration_changed: bool  # workers re-register only when SIP fields changed
    recording: bool | None = None  # calls are now recorded (True) or not (False); None: same


@dataclass(frozen=True)
class AccountEnabled(Event):
    pass


@dataclass(frozen=True)
class AccountDisabled(Event):
    user_id: int
    unused: bool = False  # by the operator's TELESIP_DISABLE_UNUSED: its owner is told too
    owner_id: int | None = None  # given with ``unused``


@dataclass(frozen=True)
class AccountDeleted(Event):
    owner_id: int
    user_id: int


@dataclass(frozen=True)
class UserAssigned(Event):
    """R4/R9/R2: ``user_id`` now uses the account; ``previous_user_id`` no longer does."""

    owner_id: int
    user_id: int
    previous_user_id: int


@dataclass(frozen=True)
class AssignmentEnded(Event):
    """R2 take back, R8 send back, R10 delete by the user: the account is the owner's again."""

    owner_id: int
    previous_user_id: int
    by_user: bool


@dataclass(frozen=True)
class OwnershipTransferred(Event):
    """R6 unlink, R7 transfer back, R8 send back of an unlinked account."""

    from_owner_id: int
    to_owner_id: int
    previous_user_id: int


@dataclass(frozen=True)
class OfferCreated(Event):
    offer_id: int
    method: str
    replaced_offer_id: int | None


@dataclass(frozen=True)
class LinkOpened(Event):
    link_id: int
    owner_id: int
    user_id: int


@dataclass(frozen=True)
class RegistrationChanged(Event):
    state: str
    code: int | None
