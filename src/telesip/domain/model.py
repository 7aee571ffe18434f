"""The entities: Telegram users, SIP accounts, transfer offers and settings links.

Each entity decides its own rules (who may do what, lifetimes); the services load them, call
these methods with the acting user and ``now``, and persist the outcome. Nothing here reads the
clock or touches storage.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from telesip.domain import errors
from telesip.domain.settings import AccountSettings


@dataclass(frozen=True)
class TelegramUser:
    """A person as Telegram describes them; ``id`` is their Telegram user id."""

    id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None

    @property
    def label(self) -> str:
        return f"@{self.username}" if self.username else (self.first_name or f"id{self.id}")


class Payer(enum.StrEnum):
    """Who pays for an account (R11): exactly one at any time."""

    OWNER_PLAN = "owner_plan"  # a seat of the owner's subscription (free/softphone/office)
    START = "start"  # the owner's Softphone-Start tariff, per account
    OPERATOR = "operator"  # the telecom operator


class Role(enum.StrEnum):
    OWNER = "owner"  # administers the account (and uses it unless assigned)
    USER = "user"  # assigned to use it (R4/R5)
    NONE = "none"


class Method(enum.StrEnum):
    ASSIGN = "assign"  # R4: recipient becomes the user
    UNLINK = "unlink"  # R6: recipient becomes owner and user


class OfferState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    REPLACED = "replaced"
    CANCELLED = "cancelled"


class OfferKind(enum.StrEnum):
    TRANSFER = "transfer"  # R3 from the card
    SEND_BACK = "send_back"  # R8 for an unlinked account: a Receive for the original sender


class RegState(enum.StrEnum):
    """Registration status as the workers report it."""

    UNKNOWN = "unknown"
    REGISTERING = "registering"
    REGISTERED = "registered"
    AUTH_FAILED = "auth_failed"
    UNREACHABLE = "unreachable"
    FAILED = "failed"
    DISABLED = "disabled"
    UNREGISTERED = "unregistered"  # enabled, but no live worker holds it


# What a worker reports (and the control plane accepts from a remote one), in this order on
# its metrics: UNKNOWN is before any report, UNREGISTERED the service's own verdict.
WORKER_STATES: tuple[RegState, ...] = (
    RegState.REGISTERING,
    RegState.REGISTERED,
    RegState.AUTH_FAILED,
    RegState.UNREACHABLE,
    RegState.FAILED,
    RegState.DISABLED,
)


class RegistrationReport(NamedTuple):
    """What a worker reports of one account's registration: made once per change of state,
    code or error (a refresh that only extends the binding makes none), written in batches by
    ``services.registrations.report_many``. A named tuple: a worker makes two per account it
    starts (registering, then the outcome), and a tuple is made in C."""

    account_id: int
    state: RegState
    code: int | None = None  # the SIP status that decided it (200, 401, 503, ...)
    error: str | None = None  # why it is not registered, for a person; never a secret
    next_retry_at: datetime | None = None  # UTC; when the worker tries again


@dataclass
class Account:
    """A SIP account (a "line"). ``user_id == owner_id`` when it is not assigned."""

    id: int
    owner_id: int
    user_id: int
    settings: AccountSettings
    enabled: bool = True
    payer: Payer = Payer.OWNER_PLAN
    via_link: bool = False  # R9: managed in the links section, not in /softphone
    duplicate: bool = False  # R11: same login at the same server exists elsewhere
    reg_state: RegState = RegState.UNKNOWN
    reg_code: int | None = None
    reg_error: str | None = None
    reg_changed_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def assigned(self) -> bool:
        return self.user_id != self.owner_id

    def role_of(self, user_id: int) -> Role:
        if user_id == self.owner_id:
            return Role.OWNER
        if user_id == self.user_id:
            return Role.USER
        return Role.NONE

    def require_owner(self, user_id: int) -> None:
        """R2/R5: only the owner administers; the assigned user gets a clear refusal."""
        role = self.role_of(user_id)
        if role is Role.USER:
            raise errors.AssignedUserLimit(account_id=self.id)
        if role is not Role.OWNER:
            raise errors.AccountNotFound(account_id=self.id)  # strangers learn nothing

    def require_visible(self, user_id: int) -> Role:
        role = self.role_of(user_id)
        if role is Role.NONE:
            raise errors.AccountNotFound(account_id=self.id)
        return role


@dataclass
class Offer:
    """A pending transfer of an account: the special message with the Receive button (R3)."""

    id: int
    account_id: int
    sender_id: int
    method: Method
    kind: OfferKind
    created_at: datetime
    expires_at: datetime
    state: OfferState = OfferState.PENDING
    only_for_id: int | None = None  # a send-back offer may be received by one person only
    recipient_id: int | None = None
    decided_at: datetime | None = None
    inline_message_id: str | None = None
    token: str | None = field(default=None, repr=False)  # for a t.me/<bot>?start=o_<token> link

    def is_live(self, now: datetime) -> bool:
        return self.state is OfferState.PENDING and now < self.expires_at

    def check_acceptable(self, by: int, now: datetime) -> None:
        """Raise the reason this person cannot receive the offer now (R3, R12)."""
        if self.state is OfferState.ACCEPTED:
            raise errors.OfferAlreadyReceived()
        if self.state is OfferState.REPLACED:
            raise errors.OfferReplaced()
        if self.state is OfferState.CANCELLED:
            raise errors.OfferCancelled()
        if self.state is OfferState.EXPIRED or now >= self.expires_at:
            raise errors.OfferExpired()
        if by == self.sender_id:
            raise errors.OwnOffer()
        if self.only_for_id is not None and by != self.only_for_id:
            raise errors.NotRecipient()

    def accept(self, by: int, now: datetime) -> None:
        self.check_acceptable(by, now)
        self.state = OfferState.ACCEPTED
        self.recipient_id = by
        self.decided_at = now


@dataclass
class SettingsLink:
    """R9: a single-use, expiring, revocable deep link that assigns an account to its opener."""

    id: int
    token: str = field(repr=False)
    account_id: int
    owner_id: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.used_by is not None:
            return "used"
        return "active"

    def check_openable(self, by: int, now: datetime) -> None:
        if self.revoked_at is not None:
            raise errors.LinkRevoked()
        if self.used_by is not None:
            raise errors.LinkUsed()
        if now >= self.expires_at:
            raise errors.LinkExpired()
        if by == self.owner_id:
            raise errors.OwnOffer("You cannot open your own settings link; send it to someone.")

    def open(self, by: int, now: datetime) -> None:
        self.check_openable(by, now)
        self.used_by = by
        self.used_at = now
